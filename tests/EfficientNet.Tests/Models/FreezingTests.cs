using EfficientNet.Analysis;
using EfficientNet.Models;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Models;

public class FreezingTests
{
    private static EfficientNetModel Small(HeadKind head = HeadKind.Linear) =>
        EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 5, CifarStem = true, Head = head });

    /// <summary>
    /// A small model that behaves like a pretrained one where the step-inspecting tests look
    /// (<see cref="TestModels.PretrainedLike"/>): fresh running statistics (mean 0, variance 1) make a frozen,
    /// eval-mode backbone shrink its input to about 1e-14 at the head, so the head's gradients would be
    /// rounding noise; the default zero logit layer passes no gradient back on the first step, and these
    /// tests look at what one step changes.
    /// </summary>
    private static EfficientNetModel PretrainedLike(HeadKind head = HeadKind.Linear) =>
        TestModels.PretrainedLike("b0", new EfficientNetOptions { NumClasses = 5, CifarStem = true, Head = head }, batches: 4);

    [Fact]
    public void HeadOnly_TrainingStep_LeavesBackboneAndItsStatisticsBitIdentical()
    {
        manual_seed(0);
        using var model = PretrainedLike(HeadKind.Mlp);
        Freezing.Apply(model, FreezeSpec.HeadOnly);
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using var optimizer = Trainer.CreateOptimizer(new TrainOptions { LearningRate = 1e-2 }, model);
        using var step = new TrainStep(model, optimizer, 0.1, CPU);
        model.train();
        using var x = randn(8, 3, 32, 32);
        using var y = randint(0, 5, [8]);
        step.Run(x, y, null, 1e-2);
        step.Run(x, y, null, 1e-2);

        foreach (var (key, value) in model.state_dict())
        {
            bool same = value.equal(before[key]).all().item<bool>();
            if (key.StartsWith("features.", StringComparison.Ordinal))
            {
                Assert.True(same, $"{key} changed although frozen");
            }
            else if (key.EndsWith("weight", StringComparison.Ordinal) || key.EndsWith("running_mean", StringComparison.Ordinal))
            {
                Assert.False(same, $"{key} did not change although trainable");
            }
        }
    }

    [Fact]
    public void UnfreezeLastLayers_TrainsExactlyThoseAndTheHead()
    {
        manual_seed(1);
        using var model = PretrainedLike();
        Freezing.Apply(model, FreezeSpec.UnfreezeLast(20));
        var layers = Freezing.BackboneLayers(model);
        var unfrozen = layers.TakeLast(20).Select(l => l.Name).ToHashSet();
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using var optimizer = Trainer.CreateOptimizer(new TrainOptions { LearningRate = 1e-2 }, model);
        model.train();
        using var x = randn(8, 3, 32, 32);
        using var y = randint(0, 5, [8]);
        using (var step = new TrainStep(model, optimizer, 0, CPU))
        {
            step.Run(x, y, null, 1e-2);
        }

        foreach (var (key, value) in model.state_dict().Where(kv => kv.Key.StartsWith("features.", StringComparison.Ordinal)))
        {
            string layer = key[..key.LastIndexOf('.')];
            bool same = value.equal(before[key]).all().item<bool>();
            bool trainable = unfrozen.Contains(layer);
            if (!trainable)
            {
                Assert.True(same, $"{key} changed although frozen");
            }
            else if (key.EndsWith(".weight", StringComparison.Ordinal) || key.EndsWith("running_var", StringComparison.Ordinal))
            {
                Assert.False(same, $"{key} did not change although unfrozen");
            }
        }
    }

    [Fact]
    public void FrozenBatchNorm_StaysInEvalModeWhileTheModelTrains()
    {
        using var model = Small();
        Freezing.Apply(model, FreezeSpec.UnfreezeLast(5));
        model.train();
        var norms = model.Features.modules().OfType<BatchNorm2d>().ToList();
        Assert.All(norms, bn => Assert.Equal(bn.weight!.requires_grad, bn.training));
        Assert.Contains(norms, bn => !bn.training);
        Assert.Contains(norms, bn => bn.training);
    }

    [Fact]
    public void Summary_ShowsTrainableAndFrozenCounts()
    {
        using var model = Small(HeadKind.Mlp);
        Freezing.Apply(model, new FreezeSpec { Backbone = true, LastBlocks = 2 });
        var report = ModelSummary.Summarize(model, 32);
        var blocks = Freezing.BackboneBlocks(model);
        long expected = blocks.TakeLast(2).Sum(b => b.parameters().Sum(p => p.numel())) + model.Classifier.parameters().Sum(p => p.numel());
        Assert.Equal(expected, report.TrainableParams);
        Assert.Equal(report.Params - expected, report.FrozenParams);
    }

    [Fact]
    public void Stages_UnfreezesNamedStagesAndRejectsUnknownOnes()
    {
        using var model = Small();
        Freezing.Apply(model, new FreezeSpec { Backbone = true, Stages = ["features.7", "8"] });
        Assert.True(model.Features.named_parameters().Where(p => p.name.StartsWith("7.", StringComparison.Ordinal) || p.name.StartsWith("8.", StringComparison.Ordinal)).All(p => p.parameter.requires_grad));
        Assert.True(model.Features.named_parameters().Where(p => p.name.StartsWith("6.", StringComparison.Ordinal)).All(p => !p.parameter.requires_grad));
        var e = Assert.Throws<EfficientNetException>(() => Freezing.Apply(model, new FreezeSpec { Backbone = true, Stages = ["features.12"] }));
        Assert.Contains("features.0 … features.8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnfreezeMoreThanTheModelHas_SaysHowManyThereAre()
    {
        using var model = Small();
        int layers = Freezing.BackboneLayers(model).Count;
        var e = Assert.Throws<EfficientNetException>(() => Freezing.Apply(model, FreezeSpec.UnfreezeLast(layers + 1)));
        Assert.Contains($"has {layers}", e.Message, StringComparison.Ordinal);
        Assert.Throws<EfficientNetException>(() => Freezing.Apply(model, new FreezeSpec { Backbone = true, LastBlocks = 19 }));
    }

    [Fact]
    public void MlpHead_HasTheKerasTutorialsLayers()
    {
        using var model = Small(HeadKind.Mlp);
        var keys = model.Classifier.state_dict().Keys.ToList();
        Assert.Equal(new long[] { 256, 1280 }, model.Classifier.state_dict()["2.weight"].shape);
        Assert.Equal(new long[] { 5, 256 }, model.Classifier.state_dict()["5.weight"].shape);
        Assert.Contains("0.running_mean", keys);
        model.eval();
        using var noGrad = no_grad();
        using var logits = model.call(randn(2, 3, 32, 32));
        Assert.Equal(new long[] { 2, 5 }, logits.shape);
        model.ResetClassifier(3, head: HeadKind.Linear);
        Assert.Equal(new long[] { 3, 1280 }, model.Classifier.state_dict()["1.weight"].shape);
    }
}
