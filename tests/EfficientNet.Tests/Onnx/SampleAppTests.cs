using System.Globalization;
using EfficientNet.Tests.Cli;

namespace EfficientNet.Tests.Onnx;

/// <summary>The README's deployment sample (samples/OnnxClassify: ONNX Runtime and SkiaSharp only) classifies like effnet predict.</summary>
public class SampleAppTests
{
    [Fact]
    public void OnnxClassify_PreprocessExport_PrintsPredictsTopFive()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string model = dir.File("flowers.onnx");
        CliRunner.Json("export", "--weights", weights, "--out", model, "--preprocess", "--json");
        string image = Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "test", "sunflower"), "*.jpg").Order().First();
        var expected = CliRunner.Json("predict", "--weights", weights, "--image", image, "--json").EnumerateArray().ToList();

        string[] lines = RunSample(model, image);
        Assert.Equal(5, lines.Length);
        foreach (var (line, row) in lines.Zip(expected))
        {
            string[] fields = line.Split('\t');
            Assert.Equal(row.GetProperty("label").GetString(), fields[0]);
            Assert.Equal(row.GetProperty("probability").GetDouble(), double.Parse(fields[1], CultureInfo.InvariantCulture), 1e-5); // the sample prints 6 decimals (5e-7) and runs ONNX Runtime, not libtorch
        }

        // The plain export (float input, logits) is not what the sample reads: it says which export it needs, in one line.
        string plain = dir.File("plain.onnx");
        CliRunner.Json("export", "--weights", weights, "--out", plain, "--json");
        var (exit, _, stderr) = TestProcess.Exit("dotnet", [SampleDll(), plain, image]);
        Assert.Equal(1, exit);
        Assert.Equal($"OnnxClassify: '{plain}' takes 'input', not uint8 RGB pixels: export it with effnet export --preprocess", stderr.Trim());
    }

    private static string[] RunSample(params string[] args) =>
        TestProcess.Run("dotnet", [SampleDll(), .. args]).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    // The sample is built with the tests (a project reference); it runs from its own output folder.
    private static string SampleDll()
    {
        // bin/<configuration>/net10.0/ of the tests, so the same configuration of the sample.
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string dll = Path.Combine(TestPaths.RepoRoot, "samples", "OnnxClassify", "bin", configuration, "net10.0", "OnnxClassify.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution");
        return dll;
    }
}
