using System.Text.Json;
using EfficientNet.Imaging;
using EfficientNet.Inference.Engines;
using EfficientNet.Inference;
using EfficientNet.Onnx;
using EfficientNet.Tests.Cli;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Onnx;

/// <summary>effnet export, and the onnxruntime engine of predict, evaluate and bench infer.</summary>
public class OnnxCliTests
{
    private static string FlowerImage(string flower = "iris") =>
        Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "test", flower), "*.jpg").Order().First();

    [Theory]
    [InlineData("b0")]
    [InlineData("v2-s")]
    public void Export_TorchvisionStateDict_GivesTorchvisionLogitsInOnnxRuntime(string variant)
    {
        string arch = "efficientnet_" + variant.Replace('-', '_');
        using var dir = new TempDir();
        string path = dir.File($"{arch}.onnx");
        // The fixtures' input is 224x224 (V2-S's own resolution is 384).
        var json = CliRunner.Json("export", "--weights", TorchvisionFixtures.Path($"{arch}.pth"), "--variant", variant, "--resolution", "224", "--out", path, "--json");
        Assert.Equal(17, json.GetProperty("opset").GetInt32());
        OnnxChecker.AssertValid(path);

        using var io = WeightsFile.Read(TorchvisionFixtures.Path($"{arch}_io.pth"));
        using var engine = OnnxRuntimeEngine.FromFile(path, threads: 2);
        using var logits = engine.Logits(io.Tensors["input"]);
        OnnxExportTests.AssertSameLogits(io.Tensors["logits"], logits);
    }

    [Fact]
    public void Export_Checkpoint_CarriesItsDescriptionInTheMetadata()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string path = dir.File("flowers.onnx");
        CliRunner.Json("export", "--weights", weights, "--out", path, "--json");
        OnnxChecker.AssertValid(path);

        using var engine = OnnxRuntimeEngine.FromFile(path);
        var info = ClassifierInfo.FromMetadata(engine.Metadata, path);
        Assert.Equal("b0", info.Variant);
        Assert.Equal(TestModels.FlowerClasses, info.ClassNames);
        Assert.Equal(12, info.NumClasses);
        Assert.Equal(64, info.Resolution);
        Assert.Equal(EfficientNet.Imaging.Normalization.ImageNet, info.Preprocessing.Normalization);
        Assert.False(info.PreprocessingInGraph);
        Assert.Equal(PretrainedRegistry.Sha256(weights), info.SourceSha256);
        Assert.Equal([-1, 3, 64, 64], engine.InputDimensions);
    }

    [Fact]
    public void Export_FixedBatchAndOtherOpsets_LoadAndAgree()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        using var input = randn(2, 3, 64, 64);
        using var reference = OnnxRuntimeEngine.FromFile(Export(dir, weights, "default.onnx"));
        using var expected = reference.Logits(input);
        foreach (string opset in new[] { "13", "21" })
        {
            using var engine = OnnxRuntimeEngine.FromFile(Export(dir, weights, $"opset{opset}.onnx", "--opset", opset, "--batch", "2"));
            Assert.Equal([2, 3, 64, 64], engine.InputDimensions);
            using var actual = engine.Logits(input);
            OnnxExportTests.AssertSameLogits(expected, actual);
        }
        OnnxChecker.AssertValid(dir.File("opset13.onnx"));
    }

    [Fact]
    public void Export_Preprocess_TakesRawPixelsAndGivesPredictsProbabilities()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string path = Export(dir, weights, "flowers-rgb.onnx", "--preprocess");
        OnnxChecker.AssertValid(path);
        string image = FlowerImage();
        var expected = CliRunner.Json("predict", "--weights", weights, "--image", image, "--top", "12", "--json").EnumerateArray()
            .ToDictionary(r => r.GetProperty("index").GetInt32(), r => r.GetProperty("probability").GetDouble());

        using var session = new InferenceSession(path);
        float[] probabilities = Probabilities(session, image, 64);

        Assert.Equal(12, probabilities.Length);
        Assert.Equal(1.0, probabilities.Sum(), 1e-5); // a float32 softmax's 12 terms, each within a few ulps
        foreach (var (index, probability) in expected)
        {
            Assert.True(Math.Abs(probabilities[index] - probability) < 1e-5, $"class {index}: ONNX {probabilities[index]} vs predict {probability}");
        }
        Assert.True(ClassifierInfo.FromMetadata(session.ModelMetadata.CustomMetadataMap, path).PreprocessingInGraph);
    }

    /// <summary>
    /// The probabilities an export with the preprocessing in the graph gives <paramref name="image"/>, handed over as
    /// any consumer does: decoded, resized, cropped, the RGB bytes as (1, H, W, 3).
    /// </summary>
    internal static float[] Probabilities(InferenceSession session, string image, int side)
    {
        byte[] planes;
        using (var bitmap = ImageDecoder.Decode(image))
        {
            planes = ImageDecoder.ResizeAndCrop(bitmap, side, side);
        }
        var pixels = new byte[planes.Length];
        for (int i = 0; i < side * side; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                pixels[3 * i + c] = planes[c * side * side + i];
            }
        }
        using var value = OrtValue.CreateTensorValueFromMemory(pixels, [1, side, side, 3]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [OnnxExporter.ImageName], [value], [OnnxExporter.ProbabilitiesName]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void Predict_OnnxRuntimeEngine_AgreesWithTorch()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string onnx = Export(dir, weights, "flowers.onnx");
        string image = FlowerImage("daisy");
        var torch = CliRunner.Json("predict", "--weights", weights, "--image", image, "--top", "12", "--engine", "torch", "--json").EnumerateArray().ToList();
        foreach (var args in new[] { new[] { "--weights", weights }, new[] { "--weights", weights, "--engine", "onnxruntime" }, new[] { "--weights", onnx } })
        {
            var rows = CliRunner.Json(["predict", .. args, "--image", image, "--top", "12", "--threads", "2", "--json"]).EnumerateArray().ToList();
            Assert.Equal(torch.Select(r => r.GetProperty("label").GetString()), rows.Select(r => r.GetProperty("label").GetString()));
            Assert.All(torch.Zip(rows), p => Assert.Equal(p.First.GetProperty("probability").GetDouble(), p.Second.GetProperty("probability").GetDouble(), 1e-5)); // two engines' float32 kernels: logits agree within 1e-4 of the largest (OnnxExportTests), probabilities within ~1e-6 measured
        }
    }

    [Fact]
    public void PredictImages_TheDefaultEngineIsOnnxRuntime_AndAgreesWithTorch_ForTheCommittedModelOnEveryFlowerPhoto()
    {
        using var dir = new TempDir();
        string model = Path.Combine(TestPaths.RepoRoot, "models", "cifar10-b0.safetensors");
        string photos = Path.Combine(TestPaths.SharedData, "flowers12", "test");
        var torch = CliRunner.Json("predict", "--weights", model, "--images", photos, "--out", dir.File("torch.jsonl"), "--top", "3", "--engine", "torch", "--threads", "2", "--json");
        var standard = CliRunner.Json("predict", "--weights", model, "--images", photos, "--out", dir.File("default.jsonl"), "--top", "3", "--threads", "2", "--json");
        Assert.Equal("torch", torch.GetProperty("engine").GetString());
        Assert.Equal("onnxruntime", standard.GetProperty("engine").GetString());
        var expected = File.ReadAllLines(dir.File("torch.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var actual = File.ReadAllLines(dir.File("default.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(240, actual.Count);
        foreach (var (e, a) in expected.Zip(actual))
        {
            Assert.Equal(e.GetProperty("path").GetString(), a.GetProperty("path").GetString());
            var ep = e.GetProperty("predictions").EnumerateArray().ToList();
            var ap = a.GetProperty("predictions").EnumerateArray().ToList();
            Assert.Equal(ep[0].GetProperty("label").GetString(), ap[0].GetProperty("label").GetString()); // top-1 identical
            // Two engines' float32 kernels: probabilities within 1e-4 (~1e-6 seen); a wrong kernel moves them by far more.
            Assert.All(ep.Zip(ap), x => Assert.Equal(x.First.GetProperty("probability").GetDouble(), x.Second.GetProperty("probability").GetDouble(), 1e-4));
        }
    }

    [Fact]
    public void Evaluate_OnnxRuntimeEngine_AgreesWithTorch()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string onnx = Export(dir, weights, "flowers.onnx");
        string data = Path.Combine(TestPaths.SharedData, "flowers12", "test");
        var torch = CliRunner.Json("evaluate", "--checkpoint", weights, "--dataset", "folder", "--data", data, "--plot", dir.File("a.png"), "--engine", "torch", "--json");
        var ort = CliRunner.Json("evaluate", "--checkpoint", onnx, "--dataset", "folder", "--data", data, "--plot", dir.File("b.png"), "--json");
        Assert.Equal("torch", torch.GetProperty("engine").GetString());
        Assert.Equal("onnxruntime", ort.GetProperty("engine").GetString());
        // Weights run on ONNX Runtime too unless asked otherwise.
        Assert.Equal("onnxruntime", CliRunner.Json("evaluate", "--checkpoint", weights, "--dataset", "folder", "--data", data, "--json").GetProperty("engine").GetString());
        Assert.Equal(240, ort.GetProperty("count").GetInt64());
        Assert.Equal(torch.GetProperty("accuracy").GetDouble(), ort.GetProperty("accuracy").GetDouble());
        double loss = torch.GetProperty("loss").GetDouble();
        Assert.True(Math.Abs(ort.GetProperty("loss").GetDouble() - loss) <= 1e-5 * loss, $"loss {ort.GetProperty("loss").GetDouble()} vs {loss}");
        Assert.Equal(torch.GetProperty("confusion").GetRawText(), ort.GetProperty("confusion").GetRawText());
    }

    [Fact]
    public void Evaluate_ShapesEachImageAsThePreprocessingPredictUsesSays()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string plain = Export(dir, weights, "flowers.onnx");
        // A preset that resizes the shorter side to 128 before the 64-pixel centre crop (as torchvision's B0 takes 224 of 256).
        string zoomed = Rewrite(plain, dir.File("zoomed.onnx"), model => model.MetadataProps.Single(p => p.Key == "resize").Value = "128");
        string data = Path.Combine(TestPaths.SharedData, "flowers12", "test");
        string predictions = dir.File("predictions.csv");
        CliRunner.Json("predict", "--weights", zoomed, "--images", data, "--out", predictions, "--top", "1", "--json");
        var evaluation = CliRunner.Json("evaluate", "--checkpoint", zoomed, "--dataset", "folder", "--data", data, "--json");

        // The confusion matrix of predict's top-1 rows (true class: the path's folder) is evaluate's.
        var classes = evaluation.GetProperty("classes").EnumerateArray().Select(c => c.GetString()!).ToList();
        var counts = new long[classes.Count, classes.Count];
        foreach (string[] row in File.ReadAllLines(predictions).Skip(1).Select(line => line.Split(',')))
        {
            counts[classes.IndexOf(row[0].Split('/')[0]), classes.IndexOf(row[1])]++;
        }
        var confusion = evaluation.GetProperty("confusion").EnumerateArray().Select(r => r.EnumerateArray().Select(c => c.GetInt64()).ToArray()).ToArray();
        for (int truth = 0; truth < classes.Count; truth++)
        {
            Assert.Equal(Enumerable.Range(0, classes.Count).Select(p => counts[truth, p]), confusion[truth]);
        }
        // Negative control: the view matters to this model, so the match above is not a coincidence.
        var unzoomed = CliRunner.Json("evaluate", "--checkpoint", plain, "--dataset", "folder", "--data", data, "--json");
        Assert.NotEqual(unzoomed.GetProperty("confusion").GetRawText(), evaluation.GetProperty("confusion").GetRawText());
    }

    [Fact]
    public void BenchInfer_OnnxRuntime_ExportedInMemoryOrFromAFile()
    {
        using var dir = new TempDir();
        var exported = CliRunner.Json("bench", "infer", "--engine", "onnxruntime", "--batch", "2", "--resolution", "64", "--seconds", "0.3", "--threads", "2", "--json");
        Assert.Equal("onnxruntime", exported.GetProperty("engine").GetString());
        Cli.BenchJson.AssertThroughputAddsUp(exported, 0.3);
        Assert.Equal(2, exported.GetProperty("threads").GetInt32());

        string onnx = Export(dir, TestModels.FlowersCheckpoint(dir.File("flowers.safetensors")), "flowers.onnx");
        var file = CliRunner.Json("bench", "infer", "--onnx", onnx, "--batch", "3", "--seconds", "0.3", "--json");
        Assert.Equal(64, file.GetProperty("resolution").GetInt32());
        Assert.Equal(onnx, file.GetProperty("onnx").GetString());
        Assert.True(file.GetProperty("iterations").GetInt32() >= 1);
        Assert.Contains("--onnx runs on --engine onnxruntime", CliRunner.Fails("bench", "infer", "--onnx", onnx, "--engine", "torch"), StringComparison.Ordinal);

        // Two forward passes at once, each from its own thread, as effnet serve --workers 2 runs batches: every worker
        // ran at least one, and the mean time of one is the two workers' time over the passes.
        var workers = CliRunner.Json("bench", "infer", "--onnx", onnx, "--batch", "2", "--seconds", "0.3", "--threads", "2", "--workers", "2", "--json");
        Cli.BenchJson.AssertThroughputAddsUp(workers, 0.3);
        Assert.Equal(2, workers.GetProperty("workers").GetInt32());
        Assert.True(workers.GetProperty("iterations").GetInt32() >= 2);
        double perBatch = 1000 * 2 * workers.GetProperty("seconds").GetDouble() / workers.GetProperty("iterations").GetInt32();
        Assert.InRange(workers.GetProperty("millisecondsPerBatch").GetDouble(), perBatch * (1 - 1e-9), perBatch * (1 + 1e-9));
        Assert.Contains("--workers must be 1, or more on the ONNX Runtime engine", CliRunner.Fails("bench", "infer", "--engine", "torch", "--resolution", "64", "--workers", "2"), StringComparison.Ordinal);
    }

    [Fact]
    public void Export_BadInput_FailsClearlyAndWritesNothing()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string target = dir.File("out.onnx");
        Assert.Contains("weights file not found: '/nonexistent.pth'", CliRunner.Fails("export", "--weights", "/nonexistent.pth", "--variant", "b0", "--out", target), StringComparison.Ordinal);
        Assert.Contains("checkpoint of b0, not b3", CliRunner.Fails("export", "--weights", weights, "--variant", "b3", "--out", target), StringComparison.Ordinal);
        Assert.Contains("do not fit EfficientNet-B1", CliRunner.Fails("export", "--weights", TorchvisionFixtures.Path("efficientnet_b0.pth"), "--variant", "b1", "--out", target), StringComparison.Ordinal);
        Assert.Contains("--opset must be between 13 and 21, got 9", CliRunner.Fails("export", "--weights", weights, "--out", target, "--opset", "9"), StringComparison.Ordinal);
        Assert.Contains("--out must be a .onnx file", CliRunner.Fails("export", "--weights", weights, "--out", dir.File("model.bin")), StringComparison.Ordinal);
        Assert.Contains("does not exist; create it first", CliRunner.Fails("export", "--weights", weights, "--out", dir.File("missing/model.onnx")), StringComparison.Ordinal);
        Assert.Equal([dir.File("flowers.safetensors")], Directory.GetFiles(dir.Path));
        Assert.False(Directory.Exists(dir.File("missing")));
        // sysfs refuses new files even to root: a folder that cannot be written to.
        Assert.Contains("cannot write '/sys/model.onnx': the folder is not writable", CliRunner.Fails("export", "--weights", weights, "--out", "/sys/model.onnx"), StringComparison.Ordinal);
        Assert.False(File.Exists("/sys/model.onnx"));
    }

    [Fact]
    public void Predict_OnnxFileWithoutTheContract_IsRejectedWithWhatWasExpected()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string image = FlowerImage();
        string good = Export(dir, weights, "good.onnx");

        string noMetadata = Rewrite(good, dir.File("no-metadata.onnx"), model => model.MetadataProps.Clear());
        Assert.Contains("has no efficientnet.format metadata", CliRunner.Fails("predict", "--weights", noMetadata, "--image", image), StringComparison.Ordinal);

        string renamed = Rewrite(good, dir.File("renamed.onnx"), model =>
        {
            model.Graph.Input[0].Name = "x";
            foreach (var node in model.Graph.Node.Where(n => n.Input.Contains(OnnxExporter.InputName)))
            {
                node.Input[node.Input.IndexOf(OnnxExporter.InputName)] = "x";
            }
        });
        string line = CliRunner.Fails("predict", "--weights", renamed, "--image", image);
        Assert.Contains("expected input 'input' float32 [batch, 3, H, W] and output 'logits'", line, StringComparison.Ordinal);
        Assert.Contains("found inputs 'x' Float [batch, 3, 64, 64]", line, StringComparison.Ordinal);

        string rgb = Export(dir, weights, "rgb.onnx", "--preprocess");
        Assert.Contains("found inputs 'image' UInt8", CliRunner.Fails("predict", "--weights", rgb, "--image", image), StringComparison.Ordinal);
        Assert.Contains("runs on --engine onnxruntime", CliRunner.Fails("predict", "--weights", good, "--engine", "torch", "--image", image), StringComparison.Ordinal);
        Assert.Contains("an export of b0, not b2", CliRunner.Fails("predict", "--weights", good, "--variant", "b2", "--image", image), StringComparison.Ordinal);
        File.WriteAllText(dir.File("garbage.onnx"), "not a model");
        Assert.Contains("ONNX Runtime cannot load", CliRunner.Fails("predict", "--weights", dir.File("garbage.onnx"), "--image", image), StringComparison.Ordinal);
    }

    [Fact]
    public void Predict_OnnxFileWhoseMetadataOrShapesDisagree_IsRejectedInOneLine()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string image = FlowerImage();
        string good = Export(dir, weights, "good.onnx");

        string threeNames = Rewrite(good, dir.File("three-names.onnx"), model => model.MetadataProps.Single(p => p.Key == "class_names").Value = "[\"a\",\"b\",\"c\"]");
        Assert.Contains($"'{threeNames}' metadata lists 3 class names for {TestModels.FlowerClasses.Length} classes; export the model again",
            CliRunner.Fails("predict", "--weights", threeNames, "--image", image, "--top", "1"), StringComparison.Ordinal);

        string hugeBatch = Rewrite(good, dir.File("huge-batch.onnx"), model => model.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimValue = 1L << 31);
        Assert.Contains($"'{hugeBatch}' does not have the classifier contract", CliRunner.Fails("predict", "--weights", hugeBatch, "--image", image), StringComparison.Ordinal);
    }

    private static string Export(TempDir dir, string weights, string name, params string[] extra)
    {
        string path = dir.File(name);
        var (exit, _, stderr) = CliRunner.Run(["export", "--weights", weights, "--out", path, .. extra]);
        Assert.True(exit == 0, stderr);
        return path;
    }

    private static string Rewrite(string source, string target, Action<global::Onnx.ModelProto> change)
    {
        var model = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(source));
        change(model);
        File.WriteAllBytes(target, model.ToByteArray());
        return target;
    }
}
