using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Training;

/// <summary>
/// Each optimizer option does what it says on one step with a known gradient; reduce-on-plateau and early stopping
/// act inside a real run exactly as its recorded validation losses and accuracies say they should.
/// </summary>
public class OptimizerAndCallbackRunTests
{
    private static readonly string Cifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    private static readonly float[] Start = [0.5f, -1.0f, 2.0f, -0.25f];
    private static readonly float[] Gradient = [0.1f, -0.3f, 0.2f, 0.4f];

    private sealed class OneParameter : nn.Module
    {
        public OneParameter() : base("one")
        {
            // A 2 x 2 matrix, as a convolution or linear weight (the parameters weight decay applies to), and a bias.
            Weight = new TorchSharp.Modules.Parameter(tensor(Start).view(2, 2));
            Bias = new TorchSharp.Modules.Parameter(tensor(Start));
            register_parameter("weight", Weight);
            register_parameter("bias", Bias);
        }

        public TorchSharp.Modules.Parameter Weight { get; }

        public TorchSharp.Modules.Parameter Bias { get; }
    }

    /// <summary>Within float32 rounding of the formula (the updates are 1e-3 to 1e-1).</summary>
    private static void Close(double expected, float actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-6, $"expected {expected}, got {actual}");

    /// <summary>The weight after one optimizer step of the loss sum(weight * Gradient) + sum(bias * Gradient).</summary>
    private static float[] OneStep(TrainOptions options) => OneStepBoth(options).Weight;

    private static (float[] Weight, float[] Bias) OneStepBoth(TrainOptions options)
    {
        var module = new OneParameter();
        using var optimizer = Trainer.CreateOptimizer(options, module);
        optimizer.zero_grad();
        using (var loss = (module.Weight.flatten() * tensor(Gradient)).sum() + (module.Bias * tensor(Gradient)).sum())
        {
            loss.backward();
        }
        optimizer.step();
        return (module.Weight.detach().data<float>().ToArray(), module.Bias.detach().data<float>().ToArray());
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.AdamW)]
    public void WeightDecay_SkipsBiasesAndNormParameters(OptimizerKind kind)
    {
        // Strong decay, so that it flips the sign of one weight's gradient: Adam's first step only sees signs.
        const double lr = 0.01, decay = 10;
        var decayed = OneStepBoth(new TrainOptions { Optimizer = kind, LearningRate = lr, WeightDecay = decay, Momentum = 0 });
        var plain = OneStepBoth(new TrainOptions { Optimizer = kind, LearningRate = lr, WeightDecay = 0, Momentum = 0 });
        Assert.Equal(plain.Bias, decayed.Bias);
        Assert.NotEqual(plain.Weight, decayed.Weight);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sgd_MomentumNesterovAndWeightDecay_FollowTheFormula(bool nesterov)
    {
        const double lr = 0.1, momentum = 0.9, decay = 0.01;

        float[] after = OneStep(new TrainOptions { Optimizer = OptimizerKind.Sgd, LearningRate = lr, Momentum = momentum, Nesterov = nesterov, WeightDecay = decay });

        for (int i = 0; i < Start.Length; i++)
        {
            // First step: the momentum buffer is the (decayed) gradient itself; Nesterov adds momentum x buffer again.
            double g = Gradient[i] + decay * Start[i];
            double update = nesterov ? g + momentum * g : g;
            Close(Start[i] - lr * update, after[i]);
        }
    }

    [Fact]
    public void Adam_AddsWeightDecayToTheGradient_AdamWDecaysTheWeights()
    {
        // Decay strong enough to flip the sign of the last weight's gradient: Adam's first step sees only signs.
        const double lr = 0.01, decay = 10, eps = 1e-8;

        float[] adam = OneStep(new TrainOptions { Optimizer = OptimizerKind.Adam, LearningRate = lr, WeightDecay = decay });
        float[] adamW = OneStep(new TrainOptions { Optimizer = OptimizerKind.AdamW, LearningRate = lr, WeightDecay = decay });

        for (int i = 0; i < Start.Length; i++)
        {
            // First step, bias-corrected: m / (sqrt(v) + eps) = g / (|g| + eps).
            double g = Gradient[i] + decay * Start[i];
            Close(Start[i] - lr * g / (Math.Abs(g) + eps), adam[i]);
            double decayed = Start[i] * (1 - lr * decay);
            Close(decayed - lr * Gradient[i] / (Math.Abs(Gradient[i]) + eps), adamW[i]);
        }
    }

    [Fact]
    public void Run_PlateauAndEarlyStopping_FollowTheRecordedValidation()
    {
        using var dir = new TempDir();
        const double lr = 0.002;
        var options = new TrainOptions
        {
            Data = Cifar,
            Epochs = 8,
            BatchSize = 16,
            TrainLimit = 64,
            ValFraction = 0.002,
            Threads = 2,
            Schedule = ScheduleKind.Constant,
            LearningRate = lr,
            MinLearningRate = 1e-12,
            PlateauPatience = 1,
            PlateauFactor = 0.5,
            EarlyStoppingPatience = 3,
        };

        var result = Trainer.Train(options, dir.File("run"));

        // Replay the rules on what the run recorded: the learning rate of each epoch, and where it stopped.
        double scale = 1, bestLoss = double.PositiveInfinity, bestAccuracy = -1;
        int plateauWait = 0, stopWait = 0, stopAt = options.Epochs;
        for (int e = 0; e < result.History.Count; e++)
        {
            var epoch = result.History[e];
            Assert.Equal(lr * scale, epoch.LearningRate, 1e-15); // the same products in double: an ulp or two
            if (epoch.ValLoss < bestLoss) { bestLoss = epoch.ValLoss; plateauWait = 0; }
            else if (++plateauWait >= options.PlateauPatience) { scale *= options.PlateauFactor; plateauWait = 0; }
            if (epoch.ValAccuracy > bestAccuracy) { bestAccuracy = epoch.ValAccuracy; stopWait = 0; }
            else if (++stopWait >= options.EarlyStoppingPatience) { stopAt = e + 1; break; }
        }
        Assert.Equal(stopAt, result.History.Count);
        Assert.Equal(stopAt < options.Epochs, result.StoppedEarly);
        Assert.True(scale < 1, "the run should have met a plateau for this check to mean anything");
    }
}
