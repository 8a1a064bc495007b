using EfficientNet.Layers;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace EfficientNet.Tests.Layers;

public class DepthwiseConvolutionTests
{
    [Theory]
    [InlineData(8, 4, 4, 5, 1, true)]   // kernel larger than the map (CIFAR B0 stage 5)
    [InlineData(8, 4, 4, 5, 2, true)]   // strided, 4x4 -> 2x2
    [InlineData(6, 5, 7, 3, 2, true)]   // odd, non-square, strided: output padding per axis
    [InlineData(6, 9, 9, 3, 1, false)]  // NCHW input
    [InlineData(4, 8, 8, 5, 2, false)]
    public void Apply_GivesLibtorchsOutputAndGradients(long channels, long height, long width, long kernel, long stride, bool channelsLast)
    {
        manual_seed(1);
        using var scope = NewDisposeScope();
        long padding = (kernel - 1) / 2;
        var x = randn(3, channels, height, width);
        if (channelsLast)
        {
            x = x.ToChannelsLast();
        }
        var w = randn(channels, 1, kernel, kernel);
        var (nativeY, nativeGx, nativeGw) = Run(x, w, (a, b) => conv2d(a, b, null, strides: [stride, stride], padding: [padding, padding], groups: channels));
        var (y, gx, gw) = Run(x, w, (a, b) => DepthwiseConvolution.Apply(a, b, stride, padding));

        TensorAssert.Identical(nativeY, y);
        Assert.True(TensorAssert.RelativeError(nativeGx, gx) < 1e-6, "input gradient");
        Assert.True(TensorAssert.RelativeError(nativeGw, gw) < 1e-5, "weight gradient");
        Assert.True(gw.abs().sum().item<float>() > 0);
    }

    private static (Tensor Y, Tensor GradX, Tensor GradW) Run(Tensor x, Tensor w, Func<Tensor, Tensor, Tensor> conv)
    {
        var xr = x.detach().requires_grad_(true);
        var wr = w.detach().requires_grad_(true);
        var y = conv(xr, wr);
        using var g = arange(y.numel(), dtype: float32).view(y.shape).sin();
        y.backward([g]);
        return (y.detach(), xr.grad!.clone(), wr.grad!.clone());
    }

    [Fact]
    public void Applies_OnlyWhereTheKernelExceedsTheOutputAndAWeightGradientIsWanted()
    {
        using var scope = NewDisposeScope();
        var w = randn(8, 1, 5, 5).requires_grad_(true);
        Assert.True(DepthwiseConvolution.Applies(randn(2, 8, 4, 4), w, 5, 1, 2));
        Assert.False(DepthwiseConvolution.Applies(randn(2, 8, 16, 16), w, 5, 1, 2));
        Assert.False(DepthwiseConvolution.Applies(randn(2, 8, 4, 4), w.detach(), 5, 1, 2));
        using (no_grad())
        {
            Assert.False(DepthwiseConvolution.Applies(randn(2, 8, 4, 4), w, 5, 1, 2));
        }
    }
}
