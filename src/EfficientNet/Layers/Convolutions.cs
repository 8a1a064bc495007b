using EfficientNet.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Layers;

/// <summary>
/// Every convolution of the models: square kernels, zero padding, one group or one per channel (depthwise). On the CPU a
/// pointwise (1x1, stride 1) convolution runs as a matrix multiply, which gives oneDNN's speed without its convolution
/// kernels; every other runs on libtorch's own convolution (oneDNN), except where <see cref="CpuKernels"/> checks each
/// shape and oneDNN was wrong for it: there it runs as a sum of shifted products of libtorch's element-wise and matrix
/// kernels (<see cref="ShiftedProducts"/>). Gradients come from autograd in every case.
/// </summary>
internal static class Convolutions
{
    /// <summary>
    /// The convolution of <paramref name="input"/> (N, C, H, W) with <paramref name="weight"/> (out, C / groups, k, k),
    /// plus <paramref name="bias"/> (out) when given; channels-last input gives channels-last output.
    /// </summary>
    public static Tensor Apply(Tensor input, Tensor weight, Tensor? bias, long stride, long padding, long groups)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (input.device_type != DeviceType.CPU)
        {
            return Libtorch(input, weight, bias, stride, padding, groups);
        }
        if (weight.shape[2] == 1 && weight.shape[3] == 1 && stride == 1 && padding == 0 && groups == 1)
        {
            return Pointwise(input, weight.reshape(weight.shape[0], weight.shape[1]), bias, input.IsChannelsLast());
        }
        if (input.dtype != ScalarType.Float32 || CpuKernels.CheckReason is null)
        {
            return Libtorch(input, weight, bias, stride, padding, groups);
        }
        var shape = ConvolutionShape.Of(input, weight, bias, stride, padding, groups);
        bool oneDnnRight = ConvolutionCheck.OneDnnIsRight(
            shape,
            (x, w, b) => Libtorch(x, w, b, stride, padding, groups),
            (x, w, b) => ShiftedProducts(x, w, b, stride, padding, groups));
        return oneDnnRight
            ? Libtorch(input, weight, bias, stride, padding, groups)
            : ShiftedProducts(input, weight, bias, stride, padding, groups);
    }

    /// <summary>libtorch's convolution (oneDNN on the CPU), with the faster depthwise weight gradient where it applies.</summary>
    private static Tensor Libtorch(Tensor input, Tensor weight, Tensor? bias, long stride, long padding, long groups)
    {
        bool depthwise = groups > 1 && groups == weight.shape[0];
        return depthwise && bias is null && DepthwiseConvolution.Applies(input, weight, weight.shape[2], stride, padding)
            ? DepthwiseConvolution.Apply(input, weight, stride, padding)
            : nn.functional.conv2d(input, weight, bias, strides: [stride, stride], padding: [padding, padding], groups: groups);
    }

    /// <summary>
    /// A 1x1 convolution with <paramref name="weight"/> (out, in) as a matrix multiply: channels-last input is a
    /// (N·H·W, in) matrix as it lies in memory, NCHW input N matrices of (in, H·W).
    /// </summary>
    private static Tensor Pointwise(Tensor input, Tensor weight, Tensor? bias, bool channelsLast)
    {
        long n = input.shape[0], height = input.shape[2], width = input.shape[3], inChannels = weight.shape[1], outChannels = weight.shape[0];
        if (channelsLast || height * width == 1)
        {
            var rows = input.permute(0, 2, 3, 1).reshape(n * height * width, inChannels);
            var product = bias is null ? rows.matmul(weight.t()) : addmm(bias, rows, weight.t(), 1, 1);
            return product.view(n, height, width, outChannels).permute(0, 3, 1, 2);
        }
        var output = weight.matmul(input.reshape(n, inChannels, height * width));
        if (bias is not null)
        {
            output = output.add(bias.view(1, outChannels, 1));
        }
        return output.view(n, outChannels, height, width);
    }

    /// <summary>
    /// The convolution as the sum over kernel offsets (i, j) of the strided input window at (i, j) times the weight's
    /// column at (i, j): a matrix multiply for one group, a per-channel product for depthwise. Uses no convolution
    /// kernel of libtorch's, so it is right wherever its element-wise and matrix kernels are: the path for shapes oneDNN
    /// gets wrong, with autograd's gradients.
    /// </summary>
    internal static Tensor ShiftedProducts(Tensor input, Tensor weight, Tensor? bias, long stride, long padding, long groups)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        long kernel = weight.shape[2], channels = input.shape[1];
        bool depthwise = groups > 1;
        if (weight.shape[3] != kernel || (depthwise && (groups != channels || weight.shape[0] != channels || weight.shape[1] != 1)) || (!depthwise && groups != 1))
        {
            throw new EfficientNetException($"only square kernels with one group or one per channel are supported, got weight ({string.Join(", ", weight.shape)}) with {groups} groups");
        }
        bool channelsLast = input.IsChannelsLast();
        var padded = padding > 0 ? nn.functional.pad(input, [padding, padding, padding, padding]) : input;
        long outHeight = (padded.shape[2] - kernel) / stride + 1, outWidth = (padded.shape[3] - kernel) / stride + 1;
        Tensor? sum = null;
        for (long i = 0; i < kernel; i++)
        {
            for (long j = 0; j < kernel; j++)
            {
                var window = padded[TensorIndex.Colon, TensorIndex.Colon,
                    TensorIndex.Slice(i, i + stride * (outHeight - 1) + 1, stride), TensorIndex.Slice(j, j + stride * (outWidth - 1) + 1, stride)];
                var term = depthwise
                    ? window * weight[TensorIndex.Colon, 0, i, j].view(1, channels, 1, 1)
                    : Pointwise(window, weight[TensorIndex.Colon, TensorIndex.Colon, i, j], null, channelsLast);
                sum = sum is null ? term : sum + term;
            }
        }
        return bias is null ? sum! : sum! + bias.view(1, -1, 1, 1);
    }
}
