using System.Diagnostics;

namespace EfficientNet.Tests.Onnx;

/// <summary>Validates an ONNX file with the ONNX project's own checker (Debian's python3-onnx, installed by .ci/run).</summary>
internal static class OnnxChecker
{
    private const string Script = "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True); print('ok')";

    public static void AssertValid(string path)
    {
        var start = new ProcessStartInfo("/usr/bin/python3", ["-c", Script, path]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0 && stdout.Trim() == "ok", $"onnx.checker rejected '{path}' (is python3-onnx installed? bash .ci/run installs it):\n{stderr}");
    }
}
