using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;

namespace EfficientNet.Tests.Training;

/// <summary>A run that failed before its first checkpoint can be re-run or resumed; killed writes leave no .tmp files.</summary>
public class UnfinishedRunTests
{
    private static readonly string Cifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    private static TrainOptions Small => new() { Data = Cifar, Epochs = 1, BatchSize = 16, TrainLimit = 32, ValFraction = 0.002, Threads = 2 };

    /// <summary>What a run killed in epoch 1 leaves: options.json and a temporary file of an interrupted write.</summary>
    private static string KilledInEpochOne(TempDir dir)
    {
        string run = dir.File("run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, RunFiles.Options), System.Text.Json.JsonSerializer.Serialize(Small, Trainer.OptionsJson));
        File.WriteAllText(Path.Combine(run, $".{RunFiles.Last}.{Guid.NewGuid():N}.tmp"), "half a checkpoint");
        return run;
    }

    [Fact]
    public void Resume_WithoutACheckpoint_StartsTheRunFromTheBeginning()
    {
        using var dir = new TempDir();
        string run = KilledInEpochOne(dir);

        var result = Trainer.Resume(run);

        Assert.Single(result.History);
        Assert.True(File.Exists(Path.Combine(run, RunFiles.Last)));
        Assert.Empty(Directory.GetFiles(run, "*.tmp"));
    }

    [Fact]
    public void Train_IntoAFolderWhoseRunStoppedBeforeACheckpoint_ReusesIt()
    {
        using var dir = new TempDir();
        string run = KilledInEpochOne(dir);

        var result = Trainer.Train(Small, run);

        Assert.Single(result.History);
        Assert.Empty(Directory.GetFiles(run, "*.tmp"));
    }

    [Fact]
    public void Train_IntoAFolderWithACheckpoint_IsStillRefused()
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        Trainer.Train(Small, run);

        var e = Assert.Throws<EfficientNetException>(() => Trainer.Train(Small, run));

        Assert.Contains("already holds a run", e.Message, StringComparison.Ordinal);
    }
}
