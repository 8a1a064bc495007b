using EfficientNet.Layers;
using EfficientNet.Models;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Models;

public class ModelTests
{
    [Fact]
    public void Forward_CifarVariant_KeepsTwoByTwoMapAt32Pixels()
    {
        using var cifar = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10, CifarStem = true });
        using var standard = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10 });
        cifar.eval();
        standard.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = randn(2, 3, 32, 32);
        Assert.Equal(new long[] { 2, 1280, 2, 2 }, cifar.ForwardFeatures(x).shape);
        Assert.Equal(new long[] { 2, 1280, 1, 1 }, standard.ForwardFeatures(x).shape);
        Assert.Equal(new long[] { 2, 10 }, cifar.call(x).shape);
        Assert.Equal(32, cifar.Resolution);
        Assert.Equal(1, cifar.FeatureInfo[0].Reduction);
    }

    [Fact]
    public void FeatureInfo_MatchesActualStageOutputs()
    {
        using var model = EfficientNetModel.Create("b2");
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = randn(1, 3, 64, 64);
        var children = model.Features.children().Cast<nn.Module<Tensor, Tensor>>().ToList();
        Assert.Equal(children.Count, model.FeatureInfo.Count);
        foreach (var (child, info) in children.Zip(model.FeatureInfo))
        {
            x = child.call(x);
            Assert.Equal(info.Channels, x.shape[1]);
            Assert.Equal(64 / info.Reduction, x.shape[2]);
        }
        Assert.Equal(new[] { 2, 2, 4, 8, 16, 16, 32, 32, 32 }, model.FeatureInfo.Select(f => f.Reduction));
        Assert.Equal(model.NumFeatures, model.FeatureInfo[^1].Channels);
    }

    [Fact]
    public void ForwardHead_PreLogits_ReturnsPooledFeatures()
    {
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 7 });
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var features = model.ForwardFeatures(randn(3, 3, 64, 64));
        Assert.Equal(new long[] { 3, 1280 }, model.ForwardHead(features, preLogits: true).shape);
        Assert.Equal(new long[] { 3, 7 }, model.ForwardHead(features).shape);
    }

    [Fact]
    public void ResetClassifier_NewClassCount_KeepsBackboneAndReplacesHead()
    {
        using var model = EfficientNetModel.Create("b0");
        var stemBefore = model.Features.parameters().First().clone();
        model.ResetClassifier(12, dropout: 0.3);
        Assert.Equal(12, model.NumClasses);
        Assert.Equal(0.3, model.Options.Dropout);
        TensorAssert.Identical(stemBefore, model.Features.parameters().First());
        var keys = model.state_dict().Keys.Where(k => k.StartsWith("classifier.", StringComparison.Ordinal)).ToList();
        Assert.Equal(new[] { "classifier.1.weight", "classifier.1.bias" }, keys);
        Assert.Equal(new long[] { 12, 1280 }, model.state_dict()["classifier.1.weight"].shape);
        model.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Assert.Equal(new long[] { 1, 12 }, model.call(randn(1, 3, 32, 32)).shape);
        Assert.Throws<EfficientNetException>(() => model.ResetClassifier(0));
    }

    [Theory]
    [InlineData(HeadKind.Linear)]
    [InlineData(HeadKind.Mlp)]
    public void Create_LogitLayerStartsAtZero_SoTheFirstLossIsChance(HeadKind head)
    {
        // A zero logit layer gives uniform predictions: loss ln(classes), not torchvision's ~3.8 on CIFAR-10.
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10, CifarStem = true, Head = head });
        model.train();
        using var scope = NewDisposeScope();
        var logits = model.call(randn(8, 3, 32, 32));
        Assert.Equal(0f, logits.abs().max().item<float>());
        var loss = nn.functional.cross_entropy(logits, randint(0, 10, [8])).item<float>();
        Assert.Equal(Math.Log(10), loss, 1e-6); // ln 10 in float32: log-softmax of equal logits is exact to a few ulps (2.3 x 1.2e-7)
        // The layers before it keep torchvision's random initialisation.
        var hidden = model.modules().OfType<TorchSharp.Modules.Linear>().ToList();
        Assert.All(hidden.SkipLast(1), l => Assert.True(l.weight!.abs().max().item<float>() > 0));
        model.ResetClassifier(5);
        Assert.Equal(0f, model.call(randn(2, 3, 32, 32)).abs().max().item<float>());
    }

    [Fact]
    public void StochasticDepth_RisesLinearlyAndOnlyOnResidualBlocks()
    {
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { StochasticDepth = 0.2 });
        var blocks = model.modules().OfType<EfficientNetBlock>().ToList();
        Assert.Equal(16, blocks.Count);
        for (int i = 0; i < blocks.Count; i++)
        {
            Assert.Equal(0.2 * i / 16, blocks[i].StochasticDepthProbability, 1e-15); // the same two double operations, at most an ulp or two apart
        }
        // B0 has residuals in every block after the first of each stage, except stage 1 (32 -> 16).
        Assert.Equal(9, blocks.Count(b => b.HasResidual));
        Assert.All(blocks.Where(b => b.HasResidual), b => Assert.Equal(b.InChannels, b.OutChannels));
    }

    [Fact]
    public void StochasticDepth_DropsWholeSamplesInTrainingOnly()
    {
        using var layer = new StochasticDepth(0.5);
        using var scope = NewDisposeScope();
        var x = ones(4000, 1, 1, 1);
        layer.train();
        var y = layer.call(x).flatten();
        var values = y.unique().Item1.data<float>().ToArray();
        Assert.Equal(new[] { 0f, 2f }, values);
        double kept = y.gt(0).to(float32).mean().item<float>();
        Assert.InRange(kept, 0.45, 0.55);
        layer.eval();
        TensorAssert.Identical(x, layer.call(x));
    }

    [Theory]
    [InlineData(0, null, 0.2, null)]
    [InlineData(10, 1.0, 0.2, null)]
    [InlineData(10, null, 1.5, null)]
    [InlineData(10, null, 0.2, 31)]
    public void Create_InvalidOptions_ThrowsActionableError(int classes, double? dropout, double depth, int? resolution)
    {
        var options = new EfficientNetOptions { NumClasses = classes, Dropout = dropout, StochasticDepth = depth, Resolution = resolution };
        var e = Assert.Throws<EfficientNetException>(() => EfficientNetModel.Create("b0", options));
        Assert.Contains("got", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Forward_NotAnRgbBatch_ThrowsWithShape()
    {
        using var model = EfficientNetModel.Create("b0");
        using var x = zeros(1, 1, 64, 64);
        var e = Assert.Throws<EfficientNetException>(() => model.call(x));
        Assert.Contains("(1, 1, 64, 64)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_DefaultsResolveFromVariant()
    {
        using var b3 = EfficientNetModel.Create("b3");
        Assert.Equal(300, b3.Resolution);
        Assert.Equal(0.3, b3.Options.Dropout);
        using var custom = EfficientNetModel.Create("b3", new EfficientNetOptions { Resolution = 128, Dropout = 0.1 });
        Assert.Equal(128, custom.Resolution);
        Assert.Equal(0.1, custom.Options.Dropout);
    }
}
