namespace EfficientNet.Tests;

/// <summary>Where the repository, the shared data and the generated fixtures are.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared beside the repository (real CIFAR-10 and flower images).</summary>
    public static string SharedData => Path.Combine(RepoRoot, "..", "shared", "data");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EfficientNet.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no EfficientNet.slnx above {AppContext.BaseDirectory}");
    }
}
