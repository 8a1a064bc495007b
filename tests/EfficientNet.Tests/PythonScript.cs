namespace EfficientNet.Tests;

/// <summary>Runs Debian's /usr/bin/python3 (with python3-torch and python3-onnx, which .ci/run installs) for references.</summary>
internal static class PythonScript
{
    /// <summary>Runs <paramref name="code"/> with <paramref name="args"/> as sys.argv[1:]; returns stdout, asserts success.</summary>
    public static string Run(string code, params string[] args) =>
        TestProcess.Run("/usr/bin/python3", ["-c", code, .. args], "; bash .ci/run installs python3-torch and python3-onnx");
}
