using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Cli;

/// <summary>The smaller verbs and options through the CLI: weights list, bench train, bench infer's layout switches and thread bound, finetune.</summary>
public class VerbCoverageTests
{
    [Fact]
    public void WeightsList_Json_IsTheRegistry()
    {
        var rows = CliRunner.Json("weights", "list", "--json").EnumerateArray().ToList();
        Assert.Equal(PretrainedRegistry.All.Count, rows.Count);
        Assert.Equal("b0", rows[0].GetProperty("variant").GetString());
        Assert.Equal("3dd342df", rows[0].GetProperty("sha256Prefix").GetString());
    }

    [Fact]
    public void BenchInfer_NchwWithoutFolding_SaysSo()
    {
        var json = CliRunner.Json("bench", "infer", "--engine", "torch", "--batch", "2", "--resolution", "64", "--seconds", "0.2", "--nchw", "--no-fuse", "--json");
        Assert.False(json.GetProperty("channelsLast").GetBoolean());
        Assert.False(json.GetProperty("fuseBatchNorm").GetBoolean());
        Assert.Equal("torch", json.GetProperty("engine").GetString());
        BenchJson.AssertThroughputAddsUp(json, 0.2);
        // ONNX Runtime is the default on the CPU, which has no such settings: they are refused, not ignored.
        Assert.Contains("add --engine torch", CliRunner.Fails("bench", "infer", "--batch", "2", "--resolution", "64", "--seconds", "0.2", "--nchw"), StringComparison.Ordinal);
    }

    [Fact]
    public void BenchTrain_Json_ReportsThroughputAndMemoryPerEpoch()
    {
        var json = CliRunner.Json("bench", "train", "--batch", "8", "--seconds", "0.5", "--epochs", "2", "--steps", "2", "--threads", "2", "--json");
        Assert.Equal(8, json.GetProperty("batch").GetInt32());
        BenchJson.AssertThroughputAddsUp(json, 0.5);
        Assert.Equal(2, json.GetProperty("residentMegabytes").GetArrayLength());
    }

    [Fact]
    public void FineTune_FromTheCli_WritesBothPhasesAndTheFinalModel()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("pretrained.safetensors"));
        string flowers = Path.Combine(TestPaths.SharedData, "flowers12");
        var (exit, stdout, stderr) = CliRunner.Run("finetune", "--weights", weights, "--data", Path.Combine(flowers, "train"),
            "--val-data", Path.Combine(flowers, "test"), "--resolution", "32", "--cache-features", "--phase1-epochs", "1",
            "--unfreeze", "5", "--phase2-epochs", "1", "--train-batchnorm", "--batch", "64", "--threads", "2", "--out", dir.File("run"));
        Assert.True(exit == 0, stderr);
        Assert.Contains("phase 2: 1 epochs", stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(dir.File("run/final.safetensors")));
        Assert.True(File.Exists(dir.File("run/evaluation.json")));
        Assert.True(File.Exists(dir.File("run/phase2/last.safetensors")));
        var phase2 = System.Text.Json.JsonSerializer.Deserialize<TrainOptions>(File.ReadAllText(dir.File("run/phase2/options.json")), Trainer.OptionsJson)!;
        Assert.Equal((5, false), (phase2.Freeze.LastLayers, phase2.Freeze.BatchNormInference));
        using var final = ModelLoader.Load(dir.File("run/final.safetensors"));
        Assert.Equal(TestModels.FlowerClasses, final.ClassNames);
    }

    [Fact]
    public void Threads_AboveTheCores_AreCutWithAWarning_NegativeIsAnError()
    {
        try
        {
            var (exit, stdout, stderr) = CliRunner.Run("bench", "infer", "--batch", "1", "--resolution", "32", "--seconds", "0.1", "--threads", "1000", "--json");
            Assert.Equal(0, exit);
            Assert.Equal(Environment.ProcessorCount, System.Text.Json.JsonDocument.Parse(stdout).RootElement.GetProperty("threads").GetInt32());
            Assert.Contains($"effnet: warning: 1000 threads are more than this machine's {Environment.ProcessorCount} logical cores", stderr, StringComparison.Ordinal);
            Assert.Contains("--threads must be 0 (the default) or positive, got -1", CliRunner.Fails("bench", "infer", "--threads", "-1"), StringComparison.Ordinal);
        }
        finally
        {
            // The in-process run set libtorch's process-wide thread count; later tests expect every core.
            TorchSharp.torch.set_num_threads(Environment.ProcessorCount);
        }
    }
}
