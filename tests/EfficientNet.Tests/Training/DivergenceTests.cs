using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;

namespace EfficientNet.Tests.Training;

/// <summary>A diverged run stops with a message and never replaces a good model.</summary>
public class DivergenceTests
{
    private static readonly string Cifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    private static TrainOptions Small(double lr) =>
        new() { Data = Cifar, Epochs = 2, BatchSize = 16, TrainLimit = 64, ValFraction = 0.002, Threads = 2, LearningRate = lr, WarmupEpochs = 0 };

    [Fact]
    public void Train_HugeLearningRate_StopsWithAMessageAndWritesNoModel()
    {
        using var dir = new TempDir();
        string run = dir.File("run");

        var e = Assert.Throws<EfficientNetException>(() => Trainer.Train(Small(1e30), run));

        Assert.Contains("training diverged", e.Message, StringComparison.Ordinal);
        Assert.Contains("TrainOptions.LearningRate", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(run, RunFiles.Best)));
    }

    [Fact]
    public void Resume_FromADamagedCheckpoint_SaysItIsDamagedAndKeepsTheBestModel()
    {
        // The case: 4 KiB of 0xFF (NaN as float32) inside last.safetensors' tensor data, then --resume.
        // The checksum written with the checkpoint reports the damage before any training.
        using var dir = new TempDir();
        string run = dir.File("run");
        Trainer.Train(Small(0.002) with { Epochs = 1 }, run);
        byte[] bestBefore = File.ReadAllBytes(Path.Combine(run, RunFiles.Best));
        string last = Path.Combine(run, RunFiles.Last);
        using (var file = new FileStream(last, FileMode.Open, FileAccess.Write))
        {
            file.Position = 1_000_000;
            file.Write(Enumerable.Repeat((byte)0xFF, 4096).ToArray());
        }

        var e = Assert.Throws<EfficientNetException>(() => Trainer.Resume(run, epochs: 2));

        Assert.Contains(last, e.Message, StringComparison.Ordinal);
        Assert.Contains("the file is damaged", e.Message, StringComparison.Ordinal);
        Assert.Equal(bestBefore, File.ReadAllBytes(Path.Combine(run, RunFiles.Best)));
        Assert.Single(HistoryCsv.Read(Path.Combine(run, RunFiles.History)));
    }
}
