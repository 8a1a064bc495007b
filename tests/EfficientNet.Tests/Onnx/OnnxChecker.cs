namespace EfficientNet.Tests.Onnx;

/// <summary>Validates an ONNX file with the ONNX project's own checker (Debian's python3-onnx, installed by .ci/run).</summary>
internal static class OnnxChecker
{
    private const string Script = "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True); print('ok')";

    public static void AssertValid(string path) => Assert.Equal("ok", PythonScript.Run(Script, path).Trim());
}
