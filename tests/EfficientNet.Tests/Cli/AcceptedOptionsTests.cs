using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Cli;

/// <summary>Options that used to be accepted and ignored: train --resume with other options, evaluate --split on folders, evaluate --variant.</summary>
public class AcceptedOptionsTests
{
    private static readonly string Cifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    private static string OneEpochRun(TempDir dir)
    {
        string run = dir.File("run");
        Trainer.Train(new TrainOptions { Data = Cifar, Epochs = 1, BatchSize = 16, TrainLimit = 32, ValFraction = 0.002, Threads = 2 }, run);
        return run;
    }

    [Fact]
    public void Resume_WithMoreEpochs_TrainsThemAndSavesTheNewLength()
    {
        using var dir = new TempDir();
        string run = OneEpochRun(dir);

        var (exit, stdout, stderr) = CliRunner.Run("train", "--resume", run, "--epochs", "2");

        Assert.True(exit == 0, stderr);
        Assert.Contains("extended to 2 epochs", stdout + stderr, StringComparison.Ordinal);
        Assert.Equal(2, HistoryCsv.Read(Path.Combine(run, RunFiles.History)).Count);
        Assert.Contains("\"epochs\": 2", File.ReadAllText(Path.Combine(run, RunFiles.Options)), StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_WithFewerEpochs_IsRefused()
    {
        using var dir = new TempDir();
        string run = OneEpochRun(dir);
        File.WriteAllText(Path.Combine(run, RunFiles.Options), File.ReadAllText(Path.Combine(run, RunFiles.Options)).Replace("\"epochs\": 1", "\"epochs\": 3", StringComparison.Ordinal));

        Assert.Contains("resuming can only extend it", CliRunner.Fails("train", "--resume", run, "--epochs", "2"), StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_WithOptionsItWouldIgnore_NamesThem()
    {
        using var dir = new TempDir();

        string error = CliRunner.Fails("train", "--resume", dir.Path, "--lr", "0.1", "--batch", "64");

        Assert.Contains("--batch, --lr cannot change it", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_SplitWithAFolder_IsRefused()
    {
        using var dir = new TempDir();
        string checkpoint = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string test = Path.Combine(TestPaths.SharedData, "flowers12", "test");

        string error = CliRunner.Fails("evaluate", "--checkpoint", checkpoint, "--dataset", "folder", "--data", test, "--split", "train");

        Assert.Contains("--data is the split", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_PlainStateDictWithVariant_UsesTheFoldersClasses()
    {
        // A state dict without this library's metadata needs --variant, which evaluate used to lack.
        using var dir = new TempDir();
        string plain = dir.File("plain.safetensors");
        using (var loaded = ModelLoader.Load(TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"))))
        using (var file = File.Create(plain))
        {
            SafetensorsFile.Write(file, StateDict.Ordered(loaded.Model));
        }
        string test = Path.Combine(TestPaths.SharedData, "flowers12", "test");

        Assert.Contains("--variant", CliRunner.Fails("evaluate", "--checkpoint", plain, "--dataset", "folder", "--data", test), StringComparison.Ordinal);
        var json = CliRunner.Json("evaluate", "--checkpoint", plain, "--variant", "b0", "--dataset", "folder", "--data", test, "--plot", dir.File("c.png"), "--json");
        Assert.Equal(240, json.GetProperty("count").GetInt64());
        Assert.Equal(TestModels.FlowerClasses, json.GetProperty("classes").EnumerateArray().Select(c => c.GetString()).ToArray());
    }
}
