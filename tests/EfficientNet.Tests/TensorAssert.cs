using static TorchSharp.torch;

namespace EfficientNet.Tests;

internal static class TensorAssert
{
    /// <summary>Same shape and bit-identical values.</summary>
    public static void Identical(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var same = expected.eq(actual).all();
        Assert.True(same.item<bool>(), "tensors differ");
    }

    /// <summary>max |actual - expected| / max |expected|.</summary>
    public static double RelativeError(Tensor expected, Tensor actual)
    {
        using var scope = NewDisposeScope();
        return (actual - expected).abs().max().item<float>() / expected.abs().max().item<float>();
    }
}
