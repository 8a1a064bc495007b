using EfficientNet.Inference.Engines;
using EfficientNet.Inference;
using EfficientNet.Layers;
using EfficientNet.Models;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Models;

/// <summary>BatchNorm folding and channels-last change speed, never results or the state dict.</summary>
public class InferenceOptimizerTests
{
    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Prepare_GivesSameLogitsAsPlainEval(bool channelsLast, bool fuse)
    {
        // Trained-looking BatchNorm statistics make the folding actually do something.
        using var loaded = ModelLoader.Load(TorchvisionFixtures.Path("efficientnet_b0.pth"), new LoadOptions { Variant = "b0" });
        var model = loaded.Model;
        using var io = WeightsFile.Read(TorchvisionFixtures.Path("efficientnet_b0_io.pth"));
        var input = io.Tensors["input"];
        var keysBefore = StateDict.Ordered(model).Select(kv => (kv.Key, string.Join(",", kv.Value.shape))).ToList();

        InferenceOptimizer.Prepare(model, new InferenceSettings(channelsLast, fuse));
        Assert.Equal(fuse, model.modules().OfType<ConvNormActivation>().All(c => c.IsFused));
        using var noGrad = no_grad();
        using var x = channelsLast ? input.ToChannelsLast() : input.alias();
        using var logits = model.call(x);
        double error = TensorAssert.RelativeError(io.Tensors["logits"], logits);
        Assert.True(error <= 1e-4, $"relative error {error:E2}");
        Assert.Equal(keysBefore, StateDict.Ordered(model).Select(kv => (kv.Key, string.Join(",", kv.Value.shape))).ToList());
    }

    [Fact]
    public void LoadWeights_IntoAPreparedModel_FoldsTheNewWeights()
    {
        manual_seed(4);
        using var prepared = TestModels.PretrainedLike("b0", new EfficientNetOptions { NumClasses = 10, CifarStem = true });
        using var other = TestModels.PretrainedLike("b0", new EfficientNetOptions { NumClasses = 10, CifarStem = true });
        InferenceOptimizer.Prepare(prepared, new InferenceSettings());
        StateDictLoader.Load(prepared, StateDict.Ordered(other).ToDictionary(kv => kv.Key, kv => kv.Value), "other", "B0");

        Assert.All(prepared.modules().OfType<ConvNormActivation>(), c => Assert.True(c.IsFused));
        using var noGrad = no_grad();
        using var input = randn(2, 3, 32, 32);
        using var expected = other.call(input);
        using var actual = prepared.call(input);
        double error = TensorAssert.RelativeError(expected, actual);
        Assert.True(error <= 1e-4, $"the prepared model still computes with its old folded weights: relative error {error:E2}");
    }

    [Fact]
    public void Train_AfterFusing_UsesLiveBatchNormAgain()
    {
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10 });
        InferenceOptimizer.Prepare(model, new InferenceSettings());
        Assert.All(model.modules().OfType<ConvNormActivation>(), c => Assert.True(c.IsFused));
        model.train();
        Assert.All(model.modules().OfType<ConvNormActivation>(), c => Assert.False(c.IsFused));
    }

    [Fact]
    public void ToChannelsLast_KeepsValuesAndSetsStrides()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 5, 7);
        var cl = x.ToChannelsLast();
        Assert.False(x.IsChannelsLast());
        Assert.True(cl.IsChannelsLast());
        TensorAssert.Identical(x, cl);
        Assert.Equal(new long[] { 105, 1, 21, 3 }, cl.stride());
    }
}
