using static TorchSharp.torch;

namespace EfficientNet.Layers;

/// <summary>
/// Channels-last (NHWC) memory layout without a <c>memory_format</c> API: TorchSharp 0.107 has none,
/// but a tensor with NHWC strides can be allocated with <c>empty_strided</c> and filled by a copy.
/// libtorch's oneDNN convolutions then take their NHWC path and keep that layout for their outputs.
/// Shapes and values are unchanged; only strides differ.
/// </summary>
public static class TensorLayout
{
    /// <summary>
    /// A 4-D tensor with the same values and shape but NHWC strides (other ranks: an alias). The result
    /// owns its storage (it is not a view), so it can become a parameter that optimizers update in place.
    /// </summary>
    public static Tensor ToChannelsLast(this Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.ndim != 4)
        {
            return tensor.alias();
        }
        long[] n = tensor.shape;
        var result = empty_strided(n, [n[1] * n[2] * n[3], 1, n[1] * n[3], n[1]], tensor.dtype, tensor.device);
        using var noGrad = no_grad();
        return result.copy_(tensor);
    }

    /// <summary>Whether a 4-D tensor has dense NHWC strides.</summary>
    public static bool IsChannelsLast(this Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.ndim != 4)
        {
            return false;
        }
        long[] s = tensor.stride();
        long[] n = tensor.shape;
        return s[1] == 1 && s[3] == n[1] && s[2] == n[1] * n[3] && s[0] == n[1] * n[2] * n[3];
    }
}
