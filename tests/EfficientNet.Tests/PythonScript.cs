using System.Diagnostics;

namespace EfficientNet.Tests;

/// <summary>Runs Debian's /usr/bin/python3 (with python3-torch and python3-onnx, which .ci/run installs) for references.</summary>
internal static class PythonScript
{
    /// <summary>Runs <paramref name="code"/> with <paramref name="args"/> as sys.argv[1:]; returns stdout, asserts success.</summary>
    public static string Run(string code, params string[] args)
    {
        var start = new ProcessStartInfo("/usr/bin/python3", ["-c", code, .. args]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"python3 failed ({process.ExitCode}); bash .ci/run installs python3-torch and python3-onnx:\n{stderr}");
        return stdout;
    }
}
