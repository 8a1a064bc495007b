using EfficientNet.Build;

namespace EfficientNet.Tests.Build;

/// <summary>
/// The build marks libLibTorchSharp.so's GLIBCXX_3.4.32 need weak in its output (never in the NuGet
/// cache) exactly where the system libstdc++ lacks that version (REFERENCE.md §1).
/// </summary>
public class LibTorchSharpPatchTests
{
    private const string Version = "GLIBCXX_3.4.32";

    private static readonly string SystemLibStdCxx = new[]
    {
        "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6",
    }.First(File.Exists);

    private static bool SystemHasVersion => ElfVersions.Defined(File.ReadAllBytes(SystemLibStdCxx)).Contains(Version);

    private static string CachedLibrary
    {
        get
        {
            string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            return Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        }
    }

    private static string OutputLibrary => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void Defined_SystemLibStdCxx_ListsItsVersions()
    {
        var defined = ElfVersions.Defined(File.ReadAllBytes(SystemLibStdCxx));
        Assert.Contains("GLIBCXX_3.4", defined);
        Assert.Contains("GLIBCXX_3.4.30", defined);
    }

    [Fact]
    public void NuGetCache_IsNeverPatched()
    {
        var need = Assert.Single(ElfVersions.Needed(File.ReadAllBytes(CachedLibrary)), n => n.Version == Version);
        Assert.Equal("libstdc++.so.6", need.File);
        Assert.False(need.IsWeak);
    }

    [Fact]
    public void BuildOutput_IsPatchedExactlyWhereSystemLacksTheVersion()
    {
        var need = Assert.Single(ElfVersions.Needed(File.ReadAllBytes(OutputLibrary)), n => n.Version == Version);
        Assert.Equal(!SystemHasVersion, need.IsWeak);
    }

    [Fact]
    public void TorchSharp_LoadsAndComputesInThisProcess()
    {
        using var x = TorchSharp.torch.arange(1, 5, dtype: TorchSharp.torch.float32);
        Assert.Equal(10f, x.sum().item<float>());
    }

    [Fact]
    public void MarkWeak_CopyOfCachedLibrary_ChangesOnlyTheFlagBytesAndIsIdempotent()
    {
        string copy = Path.Combine(Path.GetTempPath(), $"libLibTorchSharp-{Guid.NewGuid():N}.so");
        File.Copy(CachedLibrary, copy);
        try
        {
            byte[] before = File.ReadAllBytes(copy);
            Assert.Equal(1, ElfVersions.MarkWeak(copy, Version));
            byte[] after = File.ReadAllBytes(copy);
            var need = ElfVersions.Needed(after).Single(n => n.Version == Version);
            Assert.True(need.IsWeak);
            var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToArray();
            Assert.Equal(new[] { need.FlagsOffset }, changed.Select(i => (long)i));
            Assert.All(ElfVersions.Needed(after).Where(n => n.Version != Version), n => Assert.False(n.IsWeak));
            Assert.Equal(0, ElfVersions.MarkWeak(copy, Version));
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public void Needed_NotAnElfFile_Throws()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersions.Needed("not an ELF file at all, just text"u8.ToArray()));
    }

    [Fact]
    public void Publish_CliOutput_IsPatchedAndRuns()
    {
        // `dotnet publish` copies the native library from the NuGet cache again; the publish target
        // must patch that copy too. A separate configuration keeps this build apart from the tests'.
        string output = Path.Combine(Path.GetTempPath(), $"effnet-publish-{Guid.NewGuid():N}");
        try
        {
            Run("dotnet", "publish", Path.Combine(TestPaths.RepoRoot, "src", "EfficientNet.Cli"), "-c", "PublishCheck", "-o", output);
            var need = ElfVersions.Needed(File.ReadAllBytes(Path.Combine(output, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"))).Single(n => n.Version == Version);
            Assert.Equal(!SystemHasVersion, need.IsWeak);
            string json = Run("dotnet", Path.Combine(output, "effnet.dll"), "summary", "b0", "--cifar", "--classes", "10", "--json");
            Assert.Contains("\"params\": 4020358", json, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    private static string Run(string file, params string[] args) => TestProcess.Run(file, args);
}
