using EfficientNet.Weights.Formats;
using EfficientNet.Weights;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Weights;

/// <summary>
/// State dicts saved by PyTorch (torchvision layout, random weights and measured BatchNorm statistics)
/// load into our models and give torchvision's eval-mode logits.
/// </summary>
public class TorchvisionParityTests
{
    private const double RelativeTolerance = 1e-4;

    [Theory]
    [InlineData("b0", "pth")]
    [InlineData("b0", "safetensors")]
    [InlineData("b5", "pth")]
    [InlineData("b5", "safetensors")]
    [InlineData("v2-s", "pth")]
    public void Load_TorchvisionStateDict_ReproducesLogits(string variant, string extension)
    {
        string arch = "efficientnet_" + variant.Replace('-', '_');
        using var loaded = ModelLoader.Load(TorchvisionFixtures.Path($"{arch}.{extension}"), new LoadOptions { Variant = variant });
        var model = loaded.Model;
        model.eval();
        using var io = WeightsFile.Read(TorchvisionFixtures.Path($"{arch}_io.pth"));
        using var noGrad = no_grad();
        using var logits = model.call(io.Tensors["input"]);
        double error = TensorAssert.RelativeError(io.Tensors["logits"], logits);
        Assert.True(error <= RelativeTolerance, $"{variant}: max relative error {error:E2} > {RelativeTolerance:E0}");
    }

    [Fact]
    public void Load_B5WeightsWithB0BatchNormEps_WouldBeCaught()
    {
        // The parity check is sensitive to BatchNorm eps: with 1e-5 instead of B5's 1e-3 the logits
        // move far beyond the tolerance, so a wrong eps in the registry cannot pass unnoticed.
        using var loaded = ModelLoader.Load(TorchvisionFixtures.Path("efficientnet_b5.pth"), new LoadOptions { Variant = "b5" });
        var model = loaded.Model;
        model.eval();
        foreach (var bn in model.modules().OfType<TorchSharp.Modules.BatchNorm2d>())
        {
            bn.eps = 1e-5;
        }
        using var io = WeightsFile.Read(TorchvisionFixtures.Path("efficientnet_b5_io.pth"));
        using var noGrad = no_grad();
        using var logits = model.call(io.Tensors["input"]);
        double error = TensorAssert.RelativeError(io.Tensors["logits"], logits);
        Assert.True(error > 100 * RelativeTolerance, $"error {error:E2} with the wrong eps");
    }
}
