using EfficientNet.Models;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;
using EfficientNet.Training.Transfer;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Training;

public class FineTuneTests
{
    private static readonly string Flowers = Path.Combine(TestPaths.SharedData, "flowers12");

    /// <summary>A CIFAR-10 backbone trained for a few steps, as the "pretrained" weights.</summary>
    private static string Pretrained(TempDir dir)
    {
        var run = Trainer.Train(new TrainOptions
        {
            Data = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin"),
            Epochs = 1,
            BatchSize = 16,
            TrainLimit = 48,
            ValFraction = 0.002,
            Threads = 2,
        }, dir.File("pretrain"));
        return run.BestModelPath;
    }

    private static FineTuneOptions Options(string weights, bool cache) => new()
    {
        Base = FineTuneOptions.Defaults with
        {
            InitialWeights = weights,
            Data = Path.Combine(Flowers, "train"),
            ValData = Path.Combine(Flowers, "test"),
            Resolution = 32,
            CachedFeatures = cache,
            BatchSize = 48,
            Threads = 2,
        },
        Phase1Epochs = 2,
        Phase2Epochs = 1,
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Run_TwoPhases_WritesBothRunsAndEvaluatesTheFinalModel(bool cache)
    {
        using var dir = new TempDir();
        string pretrained = Pretrained(dir);
        string run = dir.File("finetune");
        var result = FineTuner.Run(Options(pretrained, cache), run);

        Assert.Equal(2, result.Phase1.History.Count);
        Assert.Single(result.Phase2!.History);
        foreach (string file in new[] { "finetune.json", "final.safetensors", "evaluation.json", "phase1/history.csv", "phase1/last.safetensors", "phase2/accuracy.png", "phase2/best.safetensors" })
        {
            Assert.True(File.Exists(Path.Combine(run, file)), file);
        }
        Assert.NotNull(result.Evaluation);
        Assert.Equal(240, result.Evaluation!.Count);
        Assert.Equal(12, result.Evaluation.Classes.Count);

        using var final = ModelLoader.Load(result.FinalModel);
        Assert.Equal(HeadKind.Mlp, final.Model.Options.Head);
        Assert.Equal(12, final.Model.NumClasses);
        Assert.Equal(32, final.Model.Resolution);
        Assert.Equal("bluebell", final.ClassNames![0]);

        // Phase 1 changed only the head: the backbone equals the pretrained one.
        using var before = WeightsFile.Read(pretrained);
        using var afterPhase1 = WeightsFile.Read(Path.Combine(run, "phase1", RunFiles.Last));
        foreach (var key in before.Tensors.Keys.Where(k => k.StartsWith("features.", StringComparison.Ordinal)))
        {
            TensorAssert.Identical(before.Tensors[key], afterPhase1.Tensors[key]);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Phase2_TrainsUnfrozenBatchNormStatisticsOnlyWhenAsked(bool trainBatchNorm)
    {
        using var dir = new TempDir();
        string pretrained = Pretrained(dir);
        string run = dir.File("finetune");
        FineTuner.Run(Options(pretrained, cache: true) with { Phase1Epochs = 1, TrainBatchNorm = trainBatchNorm }, run);

        using var phase1 = WeightsFile.Read(Path.Combine(run, "phase1", RunFiles.Last));
        using var phase2 = WeightsFile.Read(Path.Combine(run, "phase2", RunFiles.Last));
        // The head conv's BatchNorm is among the last 20 layers phase 2 unfreezes; the stem's stays frozen either way.
        const string unfrozen = "features.8.1.running_mean", frozen = "features.0.1.running_mean";
        TensorAssert.Identical(phase1.Tensors[frozen], phase2.Tensors[frozen]);
        if (trainBatchNorm)
        {
            Assert.True(TensorAssert.RelativeError(phase1.Tensors[unfrozen], phase2.Tensors[unfrozen]) > 1e-3, "the unfrozen BatchNorm's running mean did not move");
        }
        else
        {
            TensorAssert.Identical(phase1.Tensors[unfrozen], phase2.Tensors[unfrozen]);
        }
    }

    [Fact]
    public void CachedFeatures_GoThroughTheTrainersLoop_AndResumeExactlyAfterAnInterruption()
    {
        using var dir = new TempDir();
        string pretrained = Pretrained(dir);
        var options = Options(pretrained, cache: true).Phase1() with { PlateauPatience = 1 };
        Assert.True(options.CachedFeatures);
        var straight = Trainer.Train(options, dir.File("straight"));

        using var cancel = new CancellationTokenSource();
        var interrupted = Trainer.Train(options, dir.File("resumed"), new CancelAt(epoch: 2, batch: 3, cancel), cancel.Token);
        Assert.True(interrupted.Interrupted);
        var resumed = Trainer.Resume(dir.File("resumed"));

        Assert.Equal(2, resumed.History.Count);
        Assert.Equal(straight.History.Select(h => (h.TrainLoss, h.ValLoss, h.ValAccuracy)), resumed.History.Select(h => (h.TrainLoss, h.ValLoss, h.ValAccuracy)));
        Assert.Contains("\"cachedFeatures\": true", File.ReadAllText(Path.Combine(dir.File("resumed"), RunFiles.Options)), StringComparison.Ordinal);
        Assert.Contains("\"flip\": false", File.ReadAllText(Path.Combine(dir.File("resumed"), RunFiles.Options)), StringComparison.Ordinal);
        using var a = WeightsFile.Read(straight.FinalModelPath);
        using var b = WeightsFile.Read(resumed.FinalModelPath);
        foreach (var (key, tensor) in a.Tensors)
        {
            TensorAssert.Identical(tensor, b.Tensors[key]);
        }
    }

    [Fact]
    public void CachedFeatures_WithoutAFrozenBackbone_AreRefused()
    {
        var options = new TrainOptions { CachedFeatures = true, Freeze = FreezeSpec.UnfreezeLast(3) };
        var e = Assert.Throws<EfficientNetException>(options.Validate);
        Assert.Contains("cached features need the whole backbone frozen", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_UnfreezeMoreThanTheBackboneHas_FailsBeforeTraining()
    {
        using var dir = new TempDir();
        string pretrained = Pretrained(dir);
        var options = Options(pretrained, cache: true) with { Unfreeze = 100_000, Phase1Epochs = 1 };
        var e = Assert.Throws<EfficientNetException>(() => FineTuner.Run(options, dir.File("ft")));
        Assert.Contains("cannot unfreeze the last 100000 layers: the EfficientNet-B0 backbone has 227", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.File("ft")), "phase 1 ran although phase 2's --unfreeze was impossible");
    }

    [Fact]
    public void Run_ValidationClassesDiffer_Explains()
    {
        using var dir = new TempDir();
        string val = dir.File("val");
        Directory.CreateDirectory(Path.Combine(val, "daisy"));
        File.Copy(Directory.GetFiles(Path.Combine(Flowers, "test", "daisy"))[0], Path.Combine(val, "daisy", "a.jpg"));
        var b0 = Options(TorchvisionFixtures.Path("efficientnet_b0.pth"), cache: true);
        var options = b0 with { Base = b0.Base with { Variant = "b0", ValData = val } };
        var e = Assert.Throws<EfficientNetException>(() => FineTuner.Run(options, dir.File("ft")));
        Assert.Contains("differ from the model's classes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_WeightsOfAnotherVariant_Explains()
    {
        using var dir = new TempDir();
        var b0 = Options(TorchvisionFixtures.Path("efficientnet_b0.pth"), cache: true);
        var options = b0 with { Base = b0.Base with { Variant = "b2" } };
        var e = Assert.Throws<WeightsMismatchException>(() => FineTuner.Run(options, dir.File("ft")));
        Assert.Contains("another variant", e.Message, StringComparison.Ordinal);
    }
}
