using static TorchSharp.torch;

namespace EfficientNet.Layers;

/// <summary>
/// Channels-last (NHWC) memory layout without a <c>memory_format</c> API: TorchSharp 0.107 has none,
/// but a tensor whose strides are NHWC can be made by permuting to NHWC, copying, and permuting the
/// view back to NCHW. libtorch's oneDNN convolutions then take their NHWC path and keep that layout
/// for their outputs. Shapes and values are unchanged; only strides differ.
/// </summary>
public static class TensorLayout
{
    /// <summary>A 4-D tensor with the same values and shape but NHWC strides (other ranks: an alias).</summary>
    public static Tensor ToChannelsLast(this Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return tensor.ndim == 4 ? tensor.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) : tensor.alias();
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
