using System.Text.Json;
using EfficientNet.Inference.Engines;
using EfficientNet.Inference;
using EfficientNet.Onnx;
using EfficientNet.Tests.Cli;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Onnx;

/// <summary>effnet export --int8: accuracy against the float model, the graph ONNX Runtime makes of it, and the gate.</summary>
public class Int8ExportTests
{
    private static readonly string CommittedModel = Path.Combine(TestPaths.RepoRoot, "models", "cifar10-b0.safetensors");

    private static string Cifar10 => Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    private static string FlowersTrain => Path.Combine(TestPaths.SharedData, "flowers12", "train");

    [Fact]
    public void CommittedModel_Int8_WithinHalfAPointOfFloatOnTheValidationSplit()
    {
        using var dir = new TempDir();
        string int8 = dir.File("int8.onnx"), float32 = dir.File("float.onnx");
        var export = CliRunner.Json("export", "--weights", CommittedModel, "--out", int8, "--int8", "--calibrate", Cifar10, "--threads", "2", "--json");
        CliRunner.Json("export", "--weights", CommittedModel, "--out", float32, "--json");
        var report = export.GetProperty("int8");
        Assert.Equal(500, report.GetProperty("calibrationImages").GetInt32());
        Assert.Equal(500, report.GetProperty("checkImages").GetInt32());
        Assert.True(report.GetProperty("drop").GetDouble() <= 1, report.GetRawText());
        OnnxChecker.AssertValid(int8);

        double Accuracy(string model) => CliRunner.Json("evaluate", "--checkpoint", model, "--data", Cifar10, "--split", "validation", "--json")
            .GetProperty("accuracy").GetDouble();
        double floatAccuracy = Accuracy(float32), int8Accuracy = Accuracy(int8);
        Assert.True(Math.Abs(floatAccuracy - int8Accuracy) <= 0.005, $"float {floatAccuracy:P2}, INT8 {int8Accuracy:P2} on the 5,000 validation images");

        using var engine = OnnxRuntimeEngine.FromFile(int8);
        var quantization = JsonDocument.Parse(engine.Metadata[Int8Quantization.MetadataKey]).RootElement;
        Assert.Equal("percentile 99.99", quantization.GetProperty("calibration").GetString());
        Assert.Equal(500, quantization.GetProperty("calibration_images").GetInt32());
        Assert.Equal(report.GetProperty("agreement").GetDouble(), quantization.GetProperty("agreement").GetDouble());
        Assert.Equal("EfficientNet-B0 (CIFAR stem), linear head, 10 classes", ClassifierInfo.FromMetadata(engine.Metadata, int8).Model);
    }

    [Fact]
    public void MinMaxCalibration_IsRefusedByTheAccuracyGate_AndWritesNothing()
    {
        using var dir = new TempDir();
        string path = dir.File("minmax.onnx");
        string error = CliRunner.Fails("export", "--weights", CommittedModel, "--out", path, "--int8", "--calibrate", Cifar10, "--calibration", "minmax");
        Assert.Matches(@"the INT8 model loses \d+\.\d\d points of top-1 accuracy on 500 held-back images \(float 97\.00%, INT8 \d+\.\d\d%", error);
        Assert.Contains("more than --max-drop 1; nothing was written", error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Theory]
    [InlineData("committed b0")]
    [InlineData("v2-s")]
    public void Int8Graph_RunsEveryConvolutionAsQLinearConvInOnnxRuntime(string model)
    {
        using var dir = new TempDir();
        string path = dir.File("int8.onnx");
        string[] source = model == "v2-s"
            // Random weights: agreement with the float model means nothing there, only the graph is checked.
            ? ["--weights", TorchvisionFixtures.Path("efficientnet_v2_s.pth"), "--variant", "v2-s", "--resolution", "64", "--calibrate", FlowersTrain]
            : ["--weights", CommittedModel, "--calibrate", Cifar10];
        CliRunner.Json(["export", .. source, "--out", path, "--int8", "--calibration-images", "64", "--check-images", "0", "--json"]);
        var plain = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        int convolutions = plain.Graph.Node.Count(n => n.OpType == "Conv");

        var optimised = OptimisedNodeCounts(path, dir.File("optimised.onnx"));
        Assert.False(optimised.ContainsKey("Conv"), string.Join(", ", optimised));
        Assert.Equal(convolutions, optimised["QLinearConv"]);
        Assert.Equal(1, optimised["QGemm"]);
        Assert.True(optimised["QLinearSigmoid"] >= convolutions / 2, string.Join(", ", optimised));
        foreach (string kind in new[] { "QLinearMul", "QLinearGlobalAveragePool" })
        {
            Assert.True(optimised.ContainsKey(kind), $"no {kind}: {string.Join(", ", optimised)}");
        }
        // Besides: the input's QuantizeLinear, Flatten of the pooled levels, and Transposes where ONNX Runtime's NHWC
        // kernels meet the graph's NCHW; nothing else that computes in float.
        Assert.Empty(optimised.Keys.Except(["QLinearConv", "QGemm", "QLinearSigmoid", "QLinearMul", "QLinearAdd", "QLinearGlobalAveragePool", "QuantizeLinear", "Flatten", "Transpose"]));
    }

    [Fact]
    public void Int8WithPreprocessing_TakesPixelsAndAgreesWithThePlainInt8Export()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string[] int8 = ["--int8", "--calibrate", FlowersTrain, "--calibration-images", "64", "--check-images", "64", "--max-drop", "100"];
        CliRunner.Json(["export", "--weights", weights, "--out", dir.File("plain.onnx"), .. int8, "--json"]);
        CliRunner.Json(["export", "--weights", weights, "--out", dir.File("pixels.onnx"), "--preprocess", .. int8, "--json"]);
        OnnxChecker.AssertValid(dir.File("pixels.onnx"));
        using var session = new InferenceSession(dir.File("pixels.onnx"));
        foreach (string image in Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "test", "daisy"), "*.jpg").Order().Take(4))
        {
            var expected = CliRunner.Json("predict", "--weights", dir.File("plain.onnx"), "--image", image, "--top", "12", "--json").EnumerateArray()
                .ToDictionary(r => r.GetProperty("index").GetInt32(), r => r.GetProperty("probability").GetDouble());
            float[] probabilities = OnnxCliTests.Probabilities(session, image, 64);
            // The same integer graph from the same input levels: only the float softmax's rounding differs (~1e-8 measured).
            Assert.All(expected, p => Assert.Equal(p.Value, probabilities[p.Key], 1e-6));
        }
    }

    [Fact]
    public void BadInt8Options_FailInOneLineAndWriteNothing()
    {
        using var dir = new TempDir();
        string path = dir.File("out.onnx");
        string[] export = ["export", "--weights", CommittedModel, "--out", path];
        Assert.Contains("--int8 needs --calibrate", CliRunner.Fails([.. export, "--int8"]), StringComparison.Ordinal);
        Assert.Contains("--percentile applies to --int8 exports only", CliRunner.Fails([.. export, "--percentile", "99.9"]), StringComparison.Ordinal);
        Assert.Contains("--threads applies to --int8 exports only", CliRunner.Fails([.. export, "--threads", "1"]), StringComparison.Ordinal);
        string[] int8 = [.. export, "--int8", "--calibrate", Cifar10];
        Assert.Contains("--weight-bits must be 7 or 8, got 4", CliRunner.Fails([.. int8, "--weight-bits", "4"]), StringComparison.Ordinal);
        Assert.Contains("--percentile must be above 50 and at most 100, got 101", CliRunner.Fails([.. int8, "--percentile", "101"]), StringComparison.Ordinal);
        Assert.Contains("--max-drop must be 0 or positive, got -1", CliRunner.Fails([.. int8, "--max-drop", "-1"]), StringComparison.Ordinal);
        Assert.Contains($"'{FlowersTrain}' has 720 images, fewer than the 2000 of --calibration-images and the 500 of --check-images together; lower them",
            CliRunner.Fails("export", "--weights", TestModels.FlowersCheckpoint(dir.File("flowers.safetensors")), "--out", path, "--int8", "--calibrate", FlowersTrain, "--calibration-images", "2000"), StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Histogram_PercentileClipsTheOutliersAndWideningKeepsEveryCount()
    {
        var histogram = new TensorHistogram();
        histogram.Add([.. Enumerable.Range(0, 10_000).Select(i => i / 10_000f)]); // 0 .. 0.9999, uniform
        histogram.Add([-0.5f, 50f]); // one outlier each side; the bins widen 64-fold to hold 50
        var minMax = histogram.Range(CalibrationMethod.MinMax, 0);
        Assert.Equal((-0.5f, 50f), (minMax.Low, minMax.High));
        // 99.9% of 10,002 values lie below 0.9992; one bin is 50 / 2048 wide after widening.
        var clipped = histogram.Range(CalibrationMethod.Percentile, 99.9);
        Assert.Equal(-0.5f, clipped.Low);
        Assert.InRange(clipped.High, 0.9992f, 0.9992f + (50f / TensorHistogram.Bins) + 1e-3f);
        // 256 levels over [-0.278, 6], zero on level 11 (0.278 / (6.278 / 255) = 11.29): level 0 is the low end
        // within half a step, level 255 the high end.
        var range = new ActivationRange(-0.278f, 6f);
        Assert.Equal(6.278f / 255, range.Scale, 1e-7f);
        Assert.Equal(11, range.ZeroPoint);
        Assert.Equal(range.Low, (0 - range.ZeroPoint) * range.Scale, range.Scale / 2);
        Assert.Equal(range.High, (255 - range.ZeroPoint) * range.Scale, range.Scale / 2);
    }

    [Fact]
    public void TheGateAlwaysRuns_ASmallFolderIsSplitInTwo_AndOnlyCheckImagesZeroWritesAnUncheckedFile()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string photos = Path.Combine(TestPaths.SharedData, "flowers12", "test");
        string[] export = ["export", "--weights", weights, "--int8", "--calibrate", photos, "--max-drop", "100", "--threads", "2"];

        // 240 photos, fewer than the defaults' 500 + 500: half set the ranges, the other half checks.
        var (exit, stdout, stderr) = CliRunner.Run([.. export, "--out", dir.File("split.onnx"), "--json"]);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"'{photos}' has 240 images, fewer than the 1000 the defaults take: calibrating on 120 of them and checking on the other 120", stderr, StringComparison.Ordinal);
        var report = JsonDocument.Parse(stdout).RootElement.GetProperty("int8");
        Assert.Equal((120, 120), (report.GetProperty("calibrationImages").GetInt32(), report.GetProperty("checkImages").GetInt32()));
        var split = Quantization(dir.File("split.onnx"));
        Assert.Equal(120, split.GetProperty("check_images").GetInt32());
        Assert.Equal(report.GetProperty("agreement").GetDouble(), split.GetProperty("agreement").GetDouble());

        // Counts asked for that the folder cannot hold are refused with the folder, its count and what to change.
        Assert.Contains($"'{photos}' has 240 images, fewer than the 200 of --calibration-images and the 100 of --check-images together",
            CliRunner.Fails([.. export, "--out", dir.File("no.onnx"), "--calibration-images", "200", "--check-images", "100"]), StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("no.onnx")));

        // Turned off by name, the check is skipped, and the file says it was not checked rather than that it agreed.
        var unchecked_ = CliRunner.Json([.. export, "--out", dir.File("unchecked.onnx"), "--calibration-images", "64", "--check-images", "0", "--json"]).GetProperty("int8");
        Assert.Equal(JsonValueKind.Null, unchecked_.GetProperty("agreement").ValueKind);
        var metadata = Quantization(dir.File("unchecked.onnx"));
        Assert.Equal(0, metadata.GetProperty("check_images").GetInt32());
        Assert.Equal(JsonValueKind.Null, metadata.GetProperty("agreement").ValueKind);
    }

    [Fact]
    public void TheLibrary_StopsWhenFewerCheckImagesAreLeftThanAsked()
    {
        using var dir = new TempDir();
        manual_seed(4);
        using var model = EfficientNet.Models.EfficientNetModel.Create("b0", new EfficientNet.Models.EfficientNetOptions { NumClasses = 3, Resolution = 32 });
        model.eval();
        using var images = randn(40, 3, 32, 32);
        var e = Assert.Throws<EfficientNetException>(() => OnnxExporter.ExportInt8(model, dir.File("int8.onnx"), new OnnxExportOptions(),
            new Int8ExportOptions { CalibrationImages = 32, CheckImages = 16, MaxDrop = 100 }, [(images, null)]));
        Assert.Contains("Int8ExportOptions.CheckImages is 16, but only 8 images were left after the 32 calibration images", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("int8.onnx")));
    }

    private static JsonElement Quantization(string path)
    {
        using var engine = OnnxRuntimeEngine.FromFile(path);
        return JsonDocument.Parse(engine.Metadata[Int8Quantization.MetadataKey]).RootElement.Clone();
    }

    [Fact]
    public void Int8Export_FromTheLibrary_MlpHeadOfAnotherVariant_ReportsAgreementWithoutLabels()
    {
        using var dir = new TempDir();
        manual_seed(3);
        using var model = EfficientNet.Models.EfficientNetModel.Create("b1", new EfficientNet.Models.EfficientNetOptions { NumClasses = 5, Head = EfficientNet.Models.HeadKind.Mlp, Resolution = 64 });
        model.eval();
        using var images = randn(48, 3, 64, 64);
        string path = dir.File("int8.onnx");
        var report = OnnxExporter.ExportInt8(model, path, new OnnxExportOptions(),
            new Int8ExportOptions { CalibrationImages = 32, CheckImages = 16, MaxDrop = 100 },
            [(images[..24], null), (images[24..], null)]);
        Assert.Equal((32, 16), (report.CalibrationImages, report.CheckImages));
        Assert.Null(report.FloatAccuracy);
        Assert.Equal(100 * (1 - report.Agreement!.Value), report.Drop, 1e-9);
        // The MLP head's two linear layers run as QGemm; its BatchNorm stays float between them.
        var optimised = OptimisedNodeCounts(path, dir.File("optimised.onnx"));
        Assert.Equal(2, optimised["QGemm"]);
        Assert.False(optimised.ContainsKey("Conv"), string.Join(", ", optimised));
    }

    // The node kinds of the graph ONNX Runtime runs (all optimisations), from the file it writes.
    private static Dictionary<string, int> OptimisedNodeCounts(string model, string optimised)
    {
        using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, OptimizedModelFilePath = optimised })
        using (new InferenceSession(model, options))
        {
        }
        return global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimised)).Graph.Node
            .GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
    }
}
