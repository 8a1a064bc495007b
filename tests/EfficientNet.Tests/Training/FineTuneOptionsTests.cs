using EfficientNet.Models;
using EfficientNet.Training.Options;
using EfficientNet.Training.Transfer;

namespace EfficientNet.Tests.Training;

/// <summary>Fine-tuning options are a training base plus the phases: Keras's tutorial by default, and the base cannot say what the phases decide.</summary>
public class FineTuneOptionsTests
{
    [Fact]
    public void Defaults_AreKerasTutorial_OnTrainingDefaults()
    {
        var phase1 = new FineTuneOptions { Base = FineTuneOptions.Defaults with { InitialWeights = "w.pth" } }.Phase1();
        var defaults = new TrainOptions();

        Assert.Equal((DatasetKind.Folder, 32, HeadKind.Mlp, 0.0), (phase1.Dataset, phase1.BatchSize, phase1.Head, phase1.LabelSmoothing));
        Assert.Equal((defaults.ValFraction, defaults.Seed, defaults.Optimizer), (phase1.ValFraction, phase1.Seed, phase1.Optimizer));
        Assert.Equal((5, 1e-3, ScheduleKind.Constant, 0.0, true), (phase1.Epochs, phase1.LearningRate, phase1.Schedule, phase1.WarmupEpochs, phase1.ReplaceHead));
        Assert.Equal((0, 0, false), (phase1.EarlyStoppingPatience, phase1.PlateauPatience, phase1.RestoreBestWeights));
        Assert.Equal(FreezeSpec.HeadOnly, phase1.Freeze);
    }

    [Fact]
    public void Phase2_StartsFromPhase1Weights_WithItsOwnEpochsAndRate_AndTheBaseAugmentation()
    {
        var options = new FineTuneOptions { Base = FineTuneOptions.Defaults with { InitialWeights = "w.pth", CachedFeatures = true }, Phase2Epochs = 7 };
        var phase2 = options.Phase2("phase1/final.safetensors");

        Assert.Equal(("phase1/final.safetensors", false, false), (phase2.InitialWeights, phase2.ReplaceHead, phase2.CachedFeatures));
        Assert.Equal((7, 1e-5), (phase2.Epochs, phase2.LearningRate));
        Assert.Equal(options.Base.Augmentation, phase2.Augmentation);
        Assert.NotEqual(options.Base.Augmentation, options.Phase1().Augmentation);
    }

    [Fact]
    public void ABaseThatSetsWhatThePhasesDecide_IsRefused_AndOneWithoutWeights()
    {
        var e = Assert.Throws<EfficientNetException>(() => new FineTuneOptions { Base = FineTuneOptions.Defaults with { InitialWeights = "w.pth", Epochs = 3 } }.Validate());
        Assert.Contains("TrainOptions.Epochs of a fine-tuning base is set by the phases", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<EfficientNetException>(() => new FineTuneOptions().Validate());
        Assert.Contains("TrainOptions.InitialWeights", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resumed_ChangesOnlyWhatAResumeMay()
    {
        var saved = new TrainOptions { Epochs = 10 };
        var resumed = saved.Resumed(epochs: 12, skipBadImages: true, workers: 3);

        Assert.Equal(saved with { Epochs = 12, Images = saved.Images with { SkipBadImages = true, Workers = 3 } }, resumed);
        Assert.Equal(saved, saved.Resumed());
        var e = Assert.Throws<EfficientNetException>(() => saved.Resumed(epochs: 9));
        Assert.Contains("resuming can only extend it", e.Message, StringComparison.Ordinal);
    }
}
