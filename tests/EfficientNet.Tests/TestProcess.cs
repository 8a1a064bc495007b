using System.Diagnostics;

namespace EfficientNet.Tests;

/// <summary>Runs a program the tests depend on (dotnet, python3) and asserts that it succeeded.</summary>
internal static class TestProcess
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>; returns stdout, or fails the test with stderr and <paramref name="hint"/>.</summary>
    public static string Run(string file, IEnumerable<string> args, string hint = "")
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        // stderr is read concurrently so that a full pipe cannot block the child.
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', start.ArgumentList)} exited {process.ExitCode}{hint}\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
