using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;

namespace EfficientNet.Tests;

/// <summary>
/// Reference files made by Debian's python3-torchvision through tools/make_torchvision_fixtures.py,
/// generated once per script version into tests/fixtures/generated (git-ignored).
/// </summary>
internal static class TorchvisionFixtures
{
    private const string Python = "/usr/bin/python3";

    private static readonly Lazy<string> Dir = new(Generate, LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly Lazy<JsonElement> KeysJson = new(() =>
        JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(Dir.Value, "keys.json"))).RootElement.GetProperty("models"));

    public static string Path(string name) => System.IO.Path.Combine(Dir.Value, name);

    /// <summary>torchvision's parameter count for an architecture, e.g. "efficientnet_b0".</summary>
    public static long Params(string arch) => KeysJson.Value.GetProperty(arch).GetProperty("params").GetInt64();

    /// <summary>torchvision's state-dict keys and shapes, in order.</summary>
    public static IReadOnlyList<(string Key, long[] Shape)> State(string arch) =>
        KeysJson.Value.GetProperty(arch).GetProperty("state").EnumerateArray()
            .Select(e => (e[0].GetString()!, e[1].EnumerateArray().Select(d => d.GetInt64()).ToArray()))
            .ToList();

    private static string Generate()
    {
        string script = System.IO.Path.Combine(TestPaths.RepoRoot, "tools", "make_torchvision_fixtures.py");
        string stamp = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(script)))[..16];
        string dir = System.IO.Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "generated", stamp);
        if (File.Exists(System.IO.Path.Combine(dir, "DONE")))
        {
            return dir;
        }
        if (!File.Exists(Python))
        {
            throw new InvalidOperationException(
                $"{Python} is missing: install python3-torchvision (bash .ci/run does) to generate the torchvision fixtures");
        }
        var start = new ProcessStartInfo(Python, [script, dir]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"fixture generation failed ({process.ExitCode}); is python3-torchvision installed? (bash .ci/run installs it)\n{stderr}");
        }
        return dir;
    }
}
