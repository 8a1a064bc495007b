using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Training;

/// <summary>RestoreBestWeights does what it says: final.safetensors holds the best epoch's weights, or the last epoch's.</summary>
public class FinalModelTests
{
    private static readonly string Cifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    private static TrainOptions Small(bool restoreBest) =>
        new() { Data = Cifar, Epochs = 2, BatchSize = 16, TrainLimit = 64, ValFraction = 0.002, Threads = 2, RestoreBestWeights = restoreBest };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Train_FinalModel_IsTheBestOrTheLastEpochs(bool restoreBest)
    {
        using var dir = new TempDir();

        var result = Trainer.Train(Small(restoreBest), dir.File("run"));

        using var final = ModelLoader.Load(result.FinalModelPath);
        using var expected = ModelLoader.Load(restoreBest ? result.BestModelPath : result.LastCheckpointPath);
        var a = final.Model.state_dict();
        var b = expected.Model.state_dict();
        Assert.Equal(b.Keys, a.Keys);
        Assert.All(a.Keys, key => Assert.True(a[key].eq(b[key]).all().item<bool>(), key));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => final.ClassNames![i]), expected.ClassNames!);
    }
}
