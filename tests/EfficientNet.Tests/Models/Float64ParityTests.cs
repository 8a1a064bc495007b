using EfficientNet.Layers;
using EfficientNet.Models;
using EfficientNet.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Models;

/// <summary>
/// A training-mode forward and backward of whole models in float32 on this CPU's kernels gives the logits and every
/// parameter gradient of the same model in float64 (which libtorch computes with its own reference kernels, never
/// oneDNN): what a wrong convolution kernel anywhere in the network would break.
/// </summary>
public class Float64ParityTests
{
    // float32 through a whole network against float64: ~1e-5 of each gradient's range seen; wrong kernels are off by 15% and more.
    private const double Tolerance = 1e-3;

    [Theory]
    [InlineData("b0", true)]
    [InlineData("b0", false)]
    [InlineData("b2", true)]
    [InlineData("b2", false)]
    [InlineData("v2-b0", true)]
    [InlineData("v2-b0", false)]
    public void CifarStemModel_Float32GivesTheFloat64LogitsAndGradients(string variant, bool channelsLast)
    {
        manual_seed(3);
        var options = new EfficientNetOptions { NumClasses = 10, CifarStem = true, Dropout = 0, StochasticDepth = 0 };
        using var single = EfficientNetModel.Create(variant, options);
        using var reference = EfficientNetModel.Create(variant, options);
        reference.load_state_dict(single.state_dict());
        reference.to(float64);
        // Logits start at zero (the initialisation): give the last layer weights, so that gradients reach every layer.
        using (no_grad())
        {
            foreach (var model in new[] { single, reference })
            {
                var logits = model.Classifier.parameters().First();
                logits.copy_(arange(logits.numel(), dtype: float64).mul(0.61).sin().mul(0.05).view(logits.shape));
            }
        }
        using var scope = NewDisposeScope();
        var images = arange(8L * 3 * 32 * 32, dtype: float64).mul(0.37).sin().view(8, 3, 32, 32);
        var labels = arange(8L, dtype: int64).remainder(10);
        var (logits32, gradients32) = Step(single, channelsLast ? images.to(float32).ToChannelsLast() : images.to(float32), labels);
        var (logits64, gradients64) = Step(reference, images, labels);

        string where = $"{variant} {(channelsLast ? "channels-last" : "NCHW")} (convolutions checked: {CpuKernels.CheckReason ?? "no"})";
        AssertClose(logits64, logits32, "logits of " + where);
        double largest = gradients64.Values.Max(g => g.abs().max().item<double>());
        foreach (var (name, expected) in gradients64)
        {
            // A gradient that is zero in exact arithmetic (BatchNorm biases before a training-mode BatchNorm) is noise
            // in both: measure it against the largest gradient instead of its own range.
            double scale = Math.Max(expected.abs().max().item<double>(), 1e-3 * largest);
            double error = (gradients32[name].to(float64) - expected).abs().max().item<double>() / scale;
            Assert.True(error <= Tolerance, $"gradient of {name} in {where}: relative error {error:E1}");
        }
    }

    private static (Tensor Logits, Dictionary<string, Tensor> Gradients) Step(EfficientNetModel model, Tensor images, Tensor labels)
    {
        model.train();
        var logits = model.call(images);
        nn.functional.cross_entropy(logits, labels).backward();
        return (logits.detach(), model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!));
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        double error = (actual.to(float64) - expected).abs().max().item<double>() / expected.abs().max().item<double>();
        Assert.True(error <= Tolerance, $"{what}: relative error {error:E1}");
    }
}
