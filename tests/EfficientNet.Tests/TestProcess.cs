using System.Diagnostics;

namespace EfficientNet.Tests;

/// <summary>Runs a program the tests depend on (dotnet, python3) and asserts that it succeeded.</summary>
internal static class TestProcess
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>; returns stdout, or fails the test with stderr and <paramref name="hint"/>.</summary>
    public static string Run(string file, IEnumerable<string> args, string hint = "")
    {
        var (exit, stdout, stderr) = Exit(file, args);
        Assert.True(exit == 0, $"{file} {string.Join(' ', args)} exited {exit}{hint}\n{stdout}\n{stderr}");
        return stdout;
    }

    /// <summary>Runs <paramref name="file"/> to its end: exit code, standard output, standard error.</summary>
    public static (int Exit, string Out, string Err) Exit(string file, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        // stderr is read concurrently so that a full pipe cannot block the child.
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }
}
