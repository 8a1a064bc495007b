using EfficientNet.Training.Optimization;
using EfficientNet.Training.Options;
using EfficientNet.Training.Runs;

namespace EfficientNet.Tests.Training;

public class ScheduleAndCallbackTests
{
    // Schedules are a few double operations (a product, a cosine): their rounding error is ~1e-17 at these rates.
    private const double Exact = 1e-15;

    [Fact]
    public void Cosine_WarmsUpLinearlyThenDecaysToTheMinimum()
    {
        var options = new TrainOptions { Epochs = 10, WarmupEpochs = 2, LearningRate = 0.01, MinLearningRate = 1e-6 };
        var schedule = new LearningRateSchedule(options, stepsPerEpoch: 100);
        Assert.Equal(0.01 / 200, schedule.At(0), Exact);
        Assert.Equal(0.01 * 100 / 200, schedule.At(99), Exact);
        Assert.Equal(0.01, schedule.At(199), Exact);
        Assert.Equal(0.01, schedule.At(200), Exact);
        Assert.Equal(0.005, schedule.At(600), Exact); // halfway through the decay
        Assert.Equal(1e-6, schedule.At(1000), Exact);
        schedule.PlateauScale = 0.5;
        Assert.Equal(0.0025, schedule.At(600), Exact);
    }

    [Fact]
    public void Linear_WarmsUpThenFallsInAStraightLineToZero()
    {
        var options = new TrainOptions { Schedule = ScheduleKind.Linear, Epochs = 10, WarmupEpochs = 2, LearningRate = 0.1, MinLearningRate = 0 };
        var schedule = new LearningRateSchedule(options, stepsPerEpoch: 100);
        Assert.Equal(0.1 / 200, schedule.At(0), Exact);
        Assert.Equal(0.1, schedule.At(199), Exact);
        Assert.Equal(0.1, schedule.At(200), Exact);
        Assert.Equal(0.075, schedule.At(400), Exact); // a quarter of the way down
        Assert.Equal(0.05, schedule.At(600), Exact);
        Assert.Equal(0.1 / 800, schedule.At(999), Exact); // the last step: one step's worth above 0
        Assert.Equal(0, schedule.At(1000), Exact);
    }

    [Fact]
    public void Recipes_KerasIsTheDefaults_FastIsTheSgdRecipe()
    {
        Assert.Equal(new TrainOptions(), TrainOptions.FromRecipe(TrainRecipe.Keras, DatasetKind.Cifar10));
        Assert.Equal(new TrainOptions { Dataset = DatasetKind.Folder }, TrainOptions.FromRecipe(TrainRecipe.Keras, DatasetKind.Folder));
        var fast = TrainOptions.FromRecipe(TrainRecipe.Fast, DatasetKind.Cifar10);
        fast.Validate();
        Assert.Equal((DatasetKind.Cifar10, 48), (fast.Dataset, fast.Resolution));
        Assert.Equal(fast with { Dataset = DatasetKind.Folder, Resolution = null }, TrainOptions.FromRecipe(TrainRecipe.Fast, DatasetKind.Folder));
        Assert.Equal((30, OptimizerKind.Sgd, 0.1, 0.9, true, 5e-4), (fast.Epochs, fast.Optimizer, fast.LearningRate, fast.Momentum, fast.Nesterov, fast.WeightDecay));
        Assert.Equal((ScheduleKind.Linear, 2.0, 0.1, 0.2, 0.0, 0.999), (fast.Schedule, fast.WarmupEpochs, fast.LabelSmoothing, fast.Dropout, fast.StochasticDepth, fast.EmaDecay));
        Assert.Equal((0, 0, false), (fast.EarlyStoppingPatience, fast.PlateauPatience, fast.RestoreBestWeights));
        Assert.Equal(EfficientNet.Data.Augmentation.AugmentationOptions.None with { Flip = true, CropPadding = 4 }, fast.Augmentation);
    }

    [Fact]
    public void Constant_IsTheBaseRateTimesThePlateauScale()
    {
        var schedule = new LearningRateSchedule(new TrainOptions { Schedule = ScheduleKind.Constant, LearningRate = 0.1 }, 10) { PlateauScale = 0.25 };
        Assert.Equal(0.025, schedule.At(123), Exact);
    }

    [Fact]
    public void EarlyStopping_StopsAfterPatienceEpochsWithoutImprovement()
    {
        var stopping = new EarlyStopping(2);
        Assert.True(stopping.Update(1, 0.5));
        Assert.False(stopping.Update(2, 0.4));
        Assert.False(stopping.ShouldStop);
        Assert.True(stopping.Update(3, 0.6));
        Assert.False(stopping.Update(4, 0.6));
        Assert.False(stopping.Update(5, 0.55));
        Assert.True(stopping.ShouldStop);
        Assert.Equal((0.6, 3), (stopping.Best, stopping.BestEpoch));
        Assert.False(new EarlyStopping(0) { Wait = 100 }.ShouldStop);
    }

    [Fact]
    public void ReduceOnPlateau_ReducesAfterPatienceAndStartsCountingAgain()
    {
        var plateau = new ReduceOnPlateau(2, 0.5);
        Assert.Equal(1, plateau.Update(1.0));
        Assert.Equal(1, plateau.Update(1.1));
        Assert.Equal(0.5, plateau.Update(1.2));
        Assert.Equal(1, plateau.Update(1.3));
        Assert.Equal(0.5, plateau.Update(1.0));
        Assert.Equal(1, plateau.Update(0.9));
    }

    [Fact]
    public void HistoryCsv_RoundTrips_AndReadsFilesWrittenBeforeBadImagesWereCounted()
    {
        using var dir = new TempDir();
        var rows = new[] { new EpochRecord(1, 2.1, 0.3, 1.9, 0.35, 0.01, 60.5, 90.25, 1500), new EpochRecord(2, 1.5, 0.5, 1.4, 0.52, 0.009, 59, 91, 1501, BadImages: 3) };
        HistoryCsv.Write(dir.File("history.csv"), rows);
        Assert.Equal(rows, HistoryCsv.Read(dir.File("history.csv")));
        File.WriteAllText(dir.File("old.csv"), "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_second,rss_mb\n1,2.1,0.3,1.9,0.35,0.01,60.5,90.25,1500\n");
        Assert.Equal(rows[0], Assert.Single(HistoryCsv.Read(dir.File("old.csv"))));
        File.WriteAllText(dir.File("bad.csv"), "a,b\n1,2\n");
        Assert.Throws<EfficientNetException>(() => HistoryCsv.Read(dir.File("bad.csv")));
    }

    [Theory]
    [InlineData("epochs")]
    [InlineData("batch")]
    [InlineData("lr")]
    [InlineData("smoothing")]
    [InlineData("folder")]
    public void Options_OutOfRange_Throw(string which)
    {
        var options = which switch
        {
            "epochs" => new TrainOptions { Epochs = 0 },
            "batch" => new TrainOptions { BatchSize = -1 },
            "lr" => new TrainOptions { LearningRate = 0 },
            "smoothing" => new TrainOptions { LabelSmoothing = 1 },
            _ => new TrainOptions { Dataset = DatasetKind.Folder },
        };
        Assert.Throws<EfficientNetException>(options.Validate);
    }
}
