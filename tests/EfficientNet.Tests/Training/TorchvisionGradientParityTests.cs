using EfficientNet.Layers;
using EfficientNet.Models;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Training;

/// <summary>
/// One training-mode forward and backward of the CIFAR variant from torchvision's weights gives
/// torchvision's loss and gradients: BatchNorm batch statistics, SiLU, squeeze-excitation, residuals
/// and the custom depthwise backward (used here on the 2x2 and 4x4 maps) all agree with PyTorch.
/// </summary>
public class TorchvisionGradientParityTests
{
    private const double Tolerance = 1e-3;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainingStep_CifarB0_GivesTorchvisionGradients(bool channelsLast)
    {
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10, CifarStem = true, Dropout = 0, StochasticDepth = 0 });
        using (var weights = WeightsFile.Read(TorchvisionFixtures.Path("cifar_b0_train.pth")))
        {
            StateDictLoader.Load(model, weights.Tensors, "torchvision fixture", "CIFAR B0");
        }
        using var io = WeightsFile.Read(TorchvisionFixtures.Path("cifar_b0_train_io.pth"));
        using var scope = NewDisposeScope();
        var input = channelsLast ? io.Tensors["input"].ToChannelsLast() : io.Tensors["input"];
        model.train();
        var loss = nn.functional.cross_entropy(model.call(input), io.Tensors["labels"], label_smoothing: 0.1);
        loss.backward();

        Assert.Equal(io.Tensors["loss"].item<float>(), loss.item<float>(), 1e-4f); // another library's float32 kernels over a whole network: ~1e-6 seen, 1e-4 of a loss of ~2.3
        var parameters = model.named_parameters().ToList();
        Assert.Equal(parameters.Count, io.Tensors.Keys.Count(k => k.StartsWith("grad.", StringComparison.Ordinal)));
        // BatchNorm biases that feed (through a convolution) into another training-mode BatchNorm have a
        // gradient that is zero in exact arithmetic (the next batch mean removes any shift): torchvision's
        // are rounding noise below 1e-6, five orders under the others. There, ours must be noise too.
        double largest = parameters.Max(p => io.Tensors["grad." + p.name].abs().max().item<float>());
        double noise = 1e-5 * largest;
        var failures = new List<string>();
        int compared = 0;
        foreach (var (name, parameter) in parameters)
        {
            var expected = io.Tensors["grad." + name];
            double scale = expected.abs().max().item<float>();
            if (scale < noise)
            {
                double ours = parameter.grad!.abs().max().item<float>();
                if (ours > noise)
                {
                    failures.Add($"{name}: gradient {ours:E2} where torchvision's is rounding noise ({scale:E2})");
                }
                continue;
            }
            compared++;
            double error = (parameter.grad!.contiguous() - expected).abs().max().item<float>();
            if (error > Tolerance * scale)
            {
                failures.Add($"{name}: max error {error:E2} against gradient scale {scale:E2}");
            }
        }
        Assert.True(compared > parameters.Count * 9 / 10, $"only {compared} of {parameters.Count} gradients compared");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
