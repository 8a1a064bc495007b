using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace EfficientNet.Layers;

/// <summary>
/// A depthwise convolution (one k x k filter per channel, no bias) whose backward pass computes the
/// weight gradient with k² multiply-and-reduce passes instead of libtorch's CPU path.
/// </summary>
/// <remarks>
/// libtorch 2.10's oneDNN has no JIT kernel for the depthwise weight gradient on AVX2 CPUs; it falls
/// back to im2col + one small GEMM per channel group. When the kernel is larger than the output
/// (5x5 filters on 4x4 or 2x2 maps: the last stages of a 32x32 CIFAR model) that fallback is far slower
/// than the rest of the layer's backward pass (docs/performance.md#training-1, item 1). The input gradient still comes from libtorch
/// (a transposed convolution, bit-identical to the native one), and the weight gradient equals the
/// native one up to float summation order. Used only where it wins: see <see cref="Applies"/>.
/// </remarks>
internal static class DepthwiseConvolution
{
    /// <summary>
    /// Whether a training-mode forward should use <see cref="Apply"/>: a CPU tensor, gradients wanted
    /// for the weight, and a kernel larger than the output's height or width (where it measured faster;
    /// on larger maps libtorch's own path is faster and is kept).
    /// </summary>
    public static bool Applies(Tensor input, Tensor weight, long kernel, long stride, long padding)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (input.device_type != DeviceType.CPU || !is_grad_enabled() || !weight.requires_grad || input.ndim != 4)
        {
            return false;
        }
        long outHeight = (input.shape[2] + 2 * padding - kernel) / stride + 1;
        long outWidth = (input.shape[3] + 2 * padding - kernel) / stride + 1;
        return kernel > Math.Min(outHeight, outWidth);
    }

    /// <summary>Depthwise convolution of <paramref name="input"/> (N, C, H, W) with <paramref name="weight"/> (C, 1, k, k).</summary>
    public static Tensor Apply(Tensor input, Tensor weight, long stride, long padding) =>
        DepthwiseConvolutionFunction.apply(input, weight, stride, padding);

    /// <summary>
    /// The weight gradient of a depthwise convolution: for every kernel offset (i, j), the per-channel
    /// sum over batch and output positions of the output gradient times the input shifted by (i, j).
    /// </summary>
    public static Tensor WeightGradient(Tensor input, Tensor gradOutput, long kernel, long stride, long padding)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(gradOutput);
        using var scope = NewDisposeScope();
        var padded = padding > 0 ? pad(input, [padding, padding, padding, padding]) : input;
        long outHeight = gradOutput.shape[2], outWidth = gradOutput.shape[3];
        var offsets = new List<Tensor>((int)(kernel * kernel));
        for (long i = 0; i < kernel; i++)
        {
            for (long j = 0; j < kernel; j++)
            {
                var shifted = padded[TensorIndex.Colon, TensorIndex.Colon,
                    TensorIndex.Slice(i, i + stride * (outHeight - 1) + 1, stride), TensorIndex.Slice(j, j + stride * (outWidth - 1) + 1, stride)];
                offsets.Add((gradOutput * shifted).sum([0, 2, 3]));
            }
        }
        return stack(offsets, 1).view(-1, 1, kernel, kernel).MoveToOuterDisposeScope();
    }

    private sealed class DepthwiseConvolutionFunction : autograd.SingleTensorFunction<DepthwiseConvolutionFunction>
    {
        public override string Name => "DepthwiseConvolution";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var input = (Tensor)vars[0];
            var weight = (Tensor)vars[1];
            long stride = (long)vars[2], padding = (long)vars[3];
            ctx.save_for_backward([input, weight]);
            ctx.save_data("stride", stride);
            ctx.save_data("padding", padding);
            return conv2d(input, weight, null, strides: [stride, stride], padding: [padding, padding], groups: weight.shape[0]);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var saved = ctx.get_saved_variables();
            Tensor input = saved[0], weight = saved[1];
            long stride = (long)ctx.get_data("stride"), padding = (long)ctx.get_data("padding");
            long kernel = weight.shape[2];
            // The transposed convolution maps the gradient back onto the input; output_padding restores
            // the rows and columns a strided convolution skipped.
            long extraRows = input.shape[2] - ((grad_output.shape[2] - 1) * stride - 2 * padding + kernel);
            long extraColumns = input.shape[3] - ((grad_output.shape[3] - 1) * stride - 2 * padding + kernel);
            var gradInput = conv_transpose2d(grad_output, weight, null, strides: [stride, stride], padding: [padding, padding],
                output_padding: [extraRows, extraColumns], groups: weight.shape[0]);
            var gradWeight = WeightGradient(input, grad_output, kernel, stride, padding);
            // Release the saved input and weight as soon as they are used instead of whenever TorchSharp
            // disposes the node (this backward runs once per graph: no retain_graph, no double backward).
            ctx.Dispose();
            return [gradInput, gradWeight, null!, null!];
        }
    }
}
