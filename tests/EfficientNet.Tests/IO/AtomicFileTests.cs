using EfficientNet.IO;
using EfficientNet.Tests.Cli;

namespace EfficientNet.Tests.IO;

/// <summary>A path that can never be a file is refused with what is in the way, before anything is written.</summary>
public class AtomicFileTests
{
    [Fact]
    public void APathThatIsAFolder_IsRefusedByName()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("out"));
        foreach (var attempt in new Action[] { () => AtomicFile.RequireFolder(dir.File("out")), () => AtomicFile.WriteAllText(dir.File("out"), "x") })
        {
            var e = Assert.Throws<EfficientNetException>(attempt);
            Assert.Equal($"cannot write '{dir.File("out")}': it is a folder; name a file in it", e.Message);
        }
        Assert.Empty(Directory.GetFileSystemEntries(dir.File("out")));
    }

    [Fact]
    public void APathUnderAFile_NamesTheFile()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("notes.txt"), "x");
        string path = Path.Combine(dir.File("notes.txt"), "sub", "model.onnx");
        foreach (var attempt in new Action[] { () => AtomicFile.RequireFolder(path), () => AtomicFile.WriteAllText(path, "x") })
        {
            var e = Assert.Throws<EfficientNetException>(attempt);
            Assert.Equal($"cannot write '{path}': '{dir.File("notes.txt")}' is a file, not a folder", e.Message);
        }
        Assert.Equal("x", File.ReadAllText(dir.File("notes.txt")));
    }

    [Fact]
    public void TheTool_SaysTheSameForAnOutputThatIsAFolder()
    {
        using var dir = new TempDir();
        string weights = Path.Combine(TestPaths.RepoRoot, "models", "cifar10-b0.safetensors");
        Directory.CreateDirectory(dir.File("model.onnx"));
        Assert.Contains("it is a folder; name a file in it", CliRunner.Fails("export", "--weights", weights, "--out", dir.File("model.onnx")), StringComparison.Ordinal);
    }
}
