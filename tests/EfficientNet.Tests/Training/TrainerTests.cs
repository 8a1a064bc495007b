using EfficientNet.Data.Augmentation;
using EfficientNet.Data;
using EfficientNet.Imaging;
using EfficientNet.Models;
using EfficientNet.Training.Optimization;
using EfficientNet.Training.Options;
using EfficientNet.Training.Reporting;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Training;

public class TrainerTests
{
    private static readonly string Cifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    /// <summary>A tiny run: 60 training images (the stratified draw for 64) in 3 full batches of 16, 100 validation images.</summary>
    private static TrainOptions Tiny => new()
    {
        Data = Cifar,
        Epochs = 2,
        BatchSize = 16,
        TrainLimit = 64,
        ValFraction = 0.002,
        LearningRate = 0.002,
        WarmupEpochs = 0.5,
        Seed = 3,
        Threads = 2,
    };

    [Fact]
    public void TrainStep_SingleSmallBatch_OverfitsToFullAccuracy()
    {
        manual_seed(0);
        var data = Cifar10.Load(Cifar, Cifar10Split.Train);
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10, CifarStem = true, Dropout = 0, StochasticDepth = 0 });
        using var optimizer = Trainer.CreateOptimizer(new TrainOptions { LearningRate = 1e-3 }, model);
        using var step = new TrainStep(model, optimizer, labelSmoothing: 0, CPU);
        var (images, labels) = data.Batch(Enumerable.Range(0, 16).ToArray());
        using var normalized = Normalization.Cifar10.Apply(images);
        model.train();
        long correct = 0;
        double loss = double.NaN;
        for (int i = 0; i < 80 && correct < 16; i++)
        {
            var outcome = step.Run(normalized, labels, null, 1e-3);
            (loss, correct) = (outcome.Loss, outcome.Correct);
        }
        Assert.Equal(16, correct);
        Assert.True(loss < 0.5, $"loss {loss}");
    }

    [Fact]
    public void Train_RealCifarSubset_ClearlyBeatsChance()
    {
        // 3,000 real CIFAR-10 images, 4 epochs of B0 (about two minutes on two cores). Chance is 10%;
        // the threshold is 25%: with 1,000 validation images a chance-level model scores 10% ± 1%
        // (one standard deviation), so 25% is far outside chance, while this short run reaches
        // about 35-40% here (measured), which leaves room for machine-to-machine differences.
        using var dir = new TempDir();
        var options = new TrainOptions
        {
            Data = Cifar,
            Epochs = 4,
            BatchSize = 64,
            TrainLimit = 3000,
            ValFraction = 0.02,
            LearningRate = 0.002,
            WarmupEpochs = 0.5,
            Augmentation = AugmentationOptions.None,
            Seed = 1,
            Threads = 2,
        };
        var result = Trainer.Train(options, dir.File("run"));
        Assert.Equal(4, result.History.Count);
        Assert.True(result.BestAccuracy >= 0.25, $"best validation accuracy {result.BestAccuracy:P2}");
        Assert.True(result.History[^1].TrainLoss < result.History[0].TrainLoss);
    }

    [Fact]
    public void Train_WritesRunFolderWithLoadableCheckpoints()
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        var result = Trainer.Train(Tiny, run);
        foreach (string file in new[] { RunFiles.Options, RunFiles.History, RunFiles.Last, RunFiles.Best, "loss.png", "accuracy.png", "lr.png" })
        {
            Assert.True(File.Exists(Path.Combine(run, file)), file);
        }
        Assert.Equal(2, HistoryCsv.Read(Path.Combine(run, RunFiles.History)).Count);
        Assert.Empty(Directory.GetFiles(run, "*.tmp"));
        using var best = ModelLoader.Load(result.BestModelPath);
        Assert.Equal(Cifar10.DefaultClasses, best.ClassNames);
        Assert.Equal(Normalization.Cifar10, best.Normalization);
        Assert.True(best.Model.Options.CifarStem);
        using var last = ModelLoader.Load(result.LastCheckpointPath);
        Assert.Equal(10, last.Model.NumClasses);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.9)] // with a weight average, which the checkpoint must carry
    public void Resume_AfterInterruption_EndsExactlyAsAnUninterruptedRun(double emaDecay)
    {
        using var dir = new TempDir();
        var options = Tiny with { EmaDecay = emaDecay };
        var straight = Trainer.Train(options, dir.File("straight"));

        using var cancel = new CancellationTokenSource();
        var observer = new CancelAt(epoch: 2, batch: 2, cancel);
        var interrupted = Trainer.Train(options, dir.File("resumed"), observer, cancel.Token);
        Assert.True(interrupted.Interrupted);
        Assert.Single(interrupted.History);
        // The run's estimate: in epoch 1 (no validation timed yet) its batches left and all of epoch 2's at the epoch's
        // pace (within a millisecond of rounding to ticks); in epoch 2, the epoch's and a validation as long as epoch 1's.
        var (first, second) = (observer.Seen.Single(p => p.Epoch == 1 && p.Batch == 2), observer.Seen.Single(p => p.Epoch == 2 && p.Batch == 2));
        var perBatch = first.Eta / (first.Batches - first.Batch);
        Assert.InRange((first.RunEta - (first.Eta + perBatch * first.Batches)).TotalMilliseconds, -1, 1);
        Assert.True(second.RunEta > second.Eta, $"epoch 2: {second.RunEta} for the run, {second.Eta} for the epoch");
        var resumed = Trainer.Resume(dir.File("resumed"));
        Assert.False(resumed.Interrupted);

        Assert.Equal(straight.History.Select(h => (h.TrainLoss, h.ValLoss, h.ValAccuracy)), resumed.History.Select(h => (h.TrainLoss, h.ValLoss, h.ValAccuracy)));
        using var a = WeightsFile.Read(straight.LastCheckpointPath);
        using var b = WeightsFile.Read(resumed.LastCheckpointPath);
        foreach (var (key, tensor) in a.Tensors.Where(kv => !kv.Key.StartsWith("trainer.rng", StringComparison.Ordinal)))
        {
            TensorAssert.Identical(tensor, b.Tensors[key]);
        }
        Assert.Equal(emaDecay > 0, b.Tensors.Keys.Any(k => k.StartsWith(WeightAverage.CheckpointPrefix, StringComparison.Ordinal)));
    }

    [Fact]
    public void Train_IntoExistingRun_RefusesAndKeepsIt()
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        Trainer.Train(Tiny with { Epochs = 1 }, run);
        byte[] before = File.ReadAllBytes(Path.Combine(run, RunFiles.Last));
        var e = Assert.Throws<EfficientNetException>(() => Trainer.Train(Tiny, run));
        Assert.Contains("Trainer.Resume", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(run, RunFiles.Last)));
    }

    [Fact]
    public void Resume_WithAnotherModelsCheckpoint_IsRefusedSayingWhatDiffers_AndKeepsTheRun()
    {
        using var dir = new TempDir();
        string run = dir.File("b0"), other = dir.File("b1");
        Trainer.Train(Tiny with { Epochs = 1, MaxBatchesPerEpoch = 1 }, run);
        Trainer.Train(Tiny with { Epochs = 1, MaxBatchesPerEpoch = 1, Variant = "b1", CifarStem = false, Resolution = 64 }, other);
        File.Copy(Path.Combine(other, RunFiles.Last), Path.Combine(run, RunFiles.Last), overwrite: true);
        var before = Directory.GetFiles(run).Where(f => !Path.GetFileName(f).StartsWith('.')).ToDictionary(f => f, File.ReadAllBytes);

        var e = Assert.Throws<EfficientNetException>(() => Trainer.Resume(run));

        Assert.Equal(
            $"'{Path.Combine(run, RunFiles.Last)}' is not this run's checkpoint: it holds b1, {RunFiles.Options} says b0; " +
            $"its stem is the standard stem (stride 2), {RunFiles.Options} says the CIFAR stem (stride 1); its resolution is 64, {RunFiles.Options} says 32; " +
            $"put the run's own {RunFiles.Last} back, or start a new run",
            e.Message);
        Assert.All(before, file => Assert.Equal(file.Value, File.ReadAllBytes(file.Key)));
    }

    [Fact]
    public void Resume_FolderWithoutCheckpoint_SaysSo()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<EfficientNetException>(() => Trainer.Resume(dir.Path));
        Assert.Contains("it is not a run folder", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_OneClassFolder_IsRejected()
    {
        using var dir = new TempDir();
        string daisy = Path.Combine(dir.Path, "data", "daisy");
        Directory.CreateDirectory(daisy);
        foreach (string file in Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "train", "daisy")).Order().Take(4))
        {
            File.Copy(file, Path.Combine(daisy, Path.GetFileName(file)));
        }
        var options = new TrainOptions { Dataset = DatasetKind.Folder, Data = Path.Combine(dir.Path, "data"), Resolution = 32, BatchSize = 2 };
        var e = Assert.Throws<EfficientNetException>(() => Trainer.Train(options, dir.File("run")));
        Assert.Contains("at least two", e.Message, StringComparison.Ordinal);
    }
}

/// <summary>Cancels a run after 1-based <c>epoch</c>'s batch <c>batch</c>, as Ctrl+C there would.</summary>
internal sealed class CancelAt(int epoch, int batch, CancellationTokenSource cancel) : ITrainingObserver
{
    /// <summary>Every batch's progress, in order.</summary>
    public List<BatchProgress> Seen { get; } = [];

    public void Started(TrainingStart start)
    {
    }

    public void BatchDone(BatchProgress progress)
    {
        Seen.Add(progress);
        if (progress.Epoch == epoch && progress.Batch == batch)
        {
            cancel.Cancel();
        }
    }

    public void EpochDone(EpochRecord record, bool best)
    {
    }

    public void Message(string text)
    {
    }
}
