using EfficientNet.Architecture;
using EfficientNet.Models;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Cli;

public class CliTests
{
    [Fact]
    public void Variants_Json_HasMeasuredParamsAndMacsForB0ToB7()
    {
        var rows = CliRunner.Json("variants", "--json").EnumerateArray().ToList();
        Assert.Equal(Variants.All.Count, rows.Count);
        Assert.Contains(rows, r => r.GetProperty("name").GetString() == "v2-s");
        var b0 = rows[0];
        Assert.Equal("b0", b0.GetProperty("name").GetString());
        Assert.Equal(224, b0.GetProperty("resolution").GetInt32());
        Assert.Equal(1.0, b0.GetProperty("width").GetDouble());
        Assert.Equal(1.0, b0.GetProperty("depth").GetDouble());
        Assert.Equal(0.2, b0.GetProperty("dropout").GetDouble());
        Assert.Equal(5_288_548, b0.GetProperty("params").GetInt64());
        Assert.InRange(b0.GetProperty("macs").GetInt64(), 378_000_000, 394_000_000);
        Assert.Equal("EfficientNet paper, Table 2", b0.GetProperty("top1Source").GetString());
        Assert.Equal("Keras applications table", rows.Single(r => r.GetProperty("name").GetString() == "v2-m").GetProperty("top1Source").GetString());
        foreach (var (spec, row) in Variants.All.Zip(rows).Where(p => p.First.ReferenceParams is not null))
        {
            Assert.Equal(spec.ReferenceParams, row.GetProperty("params").GetInt64());
        }
    }

    [Fact]
    public void TerminalProgress_RedrawsOneLineThenErasesIt()
    {
        using var terminal = new StringWriter();
        using (var progress = new EfficientNet.Cli.Output.TerminalProgress(terminal, total: 2))
        {
            progress.Step("EfficientNet-B0");
            progress.Step("EfficientNet-B1");
        }
        string[] drawn = terminal.ToString().Split('\r', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["measuring EfficientNet-B0 (1/2)", "measuring EfficientNet-B1 (2/2)", ""], drawn.Select(d => d.Trim()));
        Assert.EndsWith("\r", terminal.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Variants_Table_ListsEveryVariant()
    {
        var (exit, stdout, _) = CliRunner.Run("variants");
        Assert.Equal(0, exit);
        Assert.Contains("EfficientNet-B7", stdout, StringComparison.Ordinal);
        Assert.Contains("66,347,960", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Summary_Json_HasTotalsAndLayers()
    {
        var json = CliRunner.Json("summary", "b0", "--classes", "10", "--cifar", "--json");
        Assert.Equal(4_020_358, json.GetProperty("params").GetInt64());
        Assert.Equal(4_020_358, json.GetProperty("trainableParams").GetInt64());
        Assert.Equal(32, json.GetProperty("resolution").GetInt32());
        var layers = json.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal("features.0.0", layers[0].GetProperty("name").GetString());
        Assert.Equal(new long[] { 32, 32, 32 }, layers[0].GetProperty("outputShape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(json.GetProperty("macs").GetInt64(), layers.Sum(l => l.GetProperty("macs").GetInt64()));
    }

    [Fact]
    public void Summary_Table_PrintsTotals()
    {
        var (exit, stdout, _) = CliRunner.Run("summary", "b0");
        Assert.Equal(0, exit);
        Assert.Contains("total params:     5,288,548", stdout, StringComparison.Ordinal);
        Assert.Contains("features.1.0.block.1.fc1", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("unknown variant 'b9'; valid variants: b0, b1", "summary", "b9")]
    [InlineData("between 32 and 4096 pixels, got 16", "summary", "b0", "--resolution", "16")]
    [InlineData("number of classes must be positive, got -3", "summary", "b0", "--classes", "-3")]
    [InlineData("alpha must be a finite number >= 1", "scale", "--alpha", "0.5")]
    [InlineData("--batch must be positive, got 0", "bench", "infer", "--batch", "0", "--seconds", "0.1")]
    [InlineData("the device must be cpu or cuda, got 'tpu'", "bench", "infer", "--device", "tpu")]
    [InlineData("weights file not found: '/nonexistent.pth'", "predict", "--variant", "b0", "--weights", "/nonexistent.pth", "--image", "x.jpg")]
    public void BadInput_OneLineErrorAndNonZeroExit(string expected, params string[] args) =>
        Assert.Contains(expected, CliRunner.Fails(args), StringComparison.Ordinal);

    [Fact]
    public void Predict_Checkpoint_PrintsTopKWithLabels()
    {
        using var dir = new TempDir();
        string weights = dir.File("flowers.safetensors");
        string labels = dir.File("labels.txt");
        using (var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 4, Resolution = 64 }))
        {
            ModelCheckpoint.Save(model, weights, ["daisy", "iris", "pansy", "lily"]);
        }
        File.WriteAllLines(labels, ["A", "B", "C", "D"]);
        string image = Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "test", "iris"), "*.jpg").Order().First();

        var rows = CliRunner.Json("predict", "--weights", weights, "--image", image, "--top", "3", "--json").EnumerateArray().ToList();
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.Contains(r.GetProperty("label").GetString(), new[] { "daisy", "iris", "pansy", "lily" }));
        Assert.True(rows[0].GetProperty("probability").GetDouble() >= rows[1].GetProperty("probability").GetDouble());
        int index = rows[0].GetProperty("index").GetInt32();

        var relabelled = CliRunner.Json("predict", "--weights", weights, "--image", image, "--labels", labels, "--json").EnumerateArray().First();
        Assert.Equal(index, relabelled.GetProperty("index").GetInt32());
        Assert.Equal(((char)('A' + index)).ToString(), relabelled.GetProperty("label").GetString());

        Assert.Contains("checkpoint of b0, not b2", CliRunner.Fails("predict", "--variant", "b2", "--weights", weights, "--image", image), StringComparison.Ordinal);
        Assert.Contains("image not found", CliRunner.Fails("predict", "--weights", weights, "--image", dir.File("none.jpg")), StringComparison.Ordinal);
    }

    [Fact]
    public void Predict_TorchvisionWeightsOfAnotherVariant_FailsWithHint()
    {
        string image = Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "test", "iris"), "*.jpg").Order().First();
        string line = CliRunner.Fails("predict", "--variant", "b1", "--weights", TorchvisionFixtures.Path("efficientnet_b0.pth"), "--image", image);
        Assert.Contains("do not fit EfficientNet-B1", line, StringComparison.Ordinal);
        Assert.Contains("another variant", line, StringComparison.Ordinal);
    }

    [Fact]
    public void BenchInfer_Json_ReportsThroughput()
    {
        var json = CliRunner.Json("bench", "infer", "--batch", "2", "--resolution", "64", "--seconds", "0.3", "--json");
        BenchJson.AssertThroughputAddsUp(json, 0.3);
        Assert.Equal(2, json.GetProperty("batch").GetInt32());
        Assert.Equal(64, json.GetProperty("resolution").GetInt32());
        Assert.True(json.GetProperty("iterations").GetInt32() >= 1);
    }

    [Fact]
    public void BenchPredict_Json_ReportsLatenciesOfWholePredictions()
    {
        string model = Path.Combine(TestPaths.RepoRoot, "models", "cifar10-b0.safetensors");
        string image = Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "test", "iris"), "*.jpg").Order().First();
        var json = CliRunner.Json("bench", "predict", "--weights", model, "--image", image, "--seconds", "0.3", "--threads", "1", "--json");
        int calls = json.GetProperty("calls").GetInt32();
        double seconds = json.GetProperty("seconds").GetDouble();
        double mean = json.GetProperty("meanMilliseconds").GetDouble();
        Assert.True(calls >= 1 && seconds >= 0.3, $"{calls} calls in {seconds} s");
        Assert.Equal(seconds * 1000 / calls, mean, 0.05 * mean + 0.5); // the calls fill the timed seconds, but for the loop's own time
        Assert.InRange(json.GetProperty("medianMilliseconds").GetDouble(), 0.01, seconds * 1000);
        Assert.Equal("onnxruntime", json.GetProperty("engine").GetString());
        Assert.Contains("image not found", CliRunner.Fails("bench", "predict", "--weights", model, "--image", "missing.jpg", "--seconds", "0.1"), StringComparison.Ordinal);
    }

    [Fact]
    public void Scale_Json_HasConstraintAndPublishedBeside()
    {
        var json = CliRunner.Json("scale", "--phi-max", "3", "--json");
        Assert.Equal(1.9203, json.GetProperty("constraint").GetDouble(), 5e-5); // the published 1.9203 is the exact 1.920270 rounded to 4 decimals
        var rows = json.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(4, rows.Count);
        Assert.Equal(264, rows[1].GetProperty("resolution").GetInt32());
        Assert.Equal(240, rows[1].GetProperty("published").GetProperty("resolution").GetInt32());
    }

    [Fact]
    public void Compare_Json_MarksQuotedAndMeasuredRows()
    {
        var rows = CliRunner.Json("compare", "--json").EnumerateArray().ToList();
        Assert.Equal(4 + Variants.All.Count, rows.Count);
        Assert.Equal("quoted", rows.Single(r => r.GetProperty("name").GetString() == "DenseNet-201").GetProperty("source").GetString());
        Assert.Equal("measured", rows.Single(r => r.GetProperty("name").GetString() == "ResNet-50").GetProperty("source").GetString());
        Assert.True(rows.All(r => r.GetProperty("top1PerGMac").GetDouble() > 0));
        Assert.Equal("Keras EfficientNet tutorial", rows.Single(r => r.GetProperty("name").GetString() == "VGG-16").GetProperty("top1Source").GetString());
        Assert.Equal("Keras applications table", rows.Single(r => r.GetProperty("name").GetString() == "EfficientNetV2-M").GetProperty("top1Source").GetString());
    }
}
