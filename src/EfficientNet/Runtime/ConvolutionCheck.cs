using System.Collections.Concurrent;
using System.Diagnostics;
using EfficientNet.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Runtime;

/// <summary>A convolution computed from (input, weight, bias).</summary>
internal delegate Tensor ConvolutionFunction(Tensor input, Tensor weight, Tensor? bias);

/// <summary>Everything that decides which of oneDNN's kernels a convolution runs: shapes, layouts, gradients, threads.</summary>
internal readonly record struct ConvolutionShape(
    long Batch, long InChannels, long Height, long Width, long OutChannels, long Kernel, long Stride, long Padding, long Groups,
    bool Bias, bool InputChannelsLast, bool WeightChannelsLast, bool InputGradient, bool WeightGradient, int Threads)
{
    /// <summary>The shape of a convolution about to run in this process.</summary>
    public static ConvolutionShape Of(Tensor input, Tensor weight, Tensor? bias, long stride, long padding, long groups)
    {
        bool gradients = is_grad_enabled();
        return new(input.shape[0], input.shape[1], input.shape[2], input.shape[3], weight.shape[0], weight.shape[2], stride, padding, groups,
            bias is not null, input.IsChannelsLast(), weight.IsChannelsLast(), gradients && input.requires_grad, gradients && weight.requires_grad,
            get_num_threads());
    }

    /// <summary>Whether the check compares gradients too.</summary>
    public bool Gradients => InputGradient || WeightGradient;

    /// <inheritdoc/>
    public override string ToString() =>
        $"{InChannels} -> {OutChannels} channels{(Groups > 1 ? " depthwise" : "")}, {Kernel}x{Kernel} stride {Stride} at {Height}x{Width}, " +
        $"batch {Batch}, {(InputChannelsLast ? "channels-last" : "NCHW")}";
}

/// <summary>
/// Checks a convolution shape against float64 before its first use, where <see cref="CpuKernels"/> says the CPU needs it:
/// oneDNN's float32 result on computed inputs, and with gradients on, both its gradients, against the same convolution
/// and gradients computed directly in float64 (<see cref="Reference"/>). Right means every value within
/// <see cref="Tolerance"/> of the reference's largest magnitude. The verdict is kept for the process; oneDNN's kernels are
/// deterministic per shape.
/// </summary>
internal static class ConvolutionCheck
{
    /// <summary>
    /// Largest error allowed, as a share of the reference's largest magnitude: an order above float32's rounding in the
    /// largest weight gradients, two below the wrong kernels' errors (docs/performance.md#cpus-that-hide-their-caches).
    /// </summary>
    public const double Tolerance = 1e-3;

    // float64 working memory per reference chunk: the batch is checked in chunks of images that fit in it.
    private const long ChunkBytes = 64L << 20;

    private static readonly ConcurrentDictionary<ConvolutionShape, Verdict> Verdicts = new();
    private static readonly Lock Checking = new();
    private static int notesWritten;

    [ThreadStatic]
    private static List<Verdict>? collected;

    /// <summary>What a check found.</summary>
    private sealed record Verdict(ConvolutionShape Shape, bool OneDnnRight, string? OneDnnError, double Seconds);

    /// <summary>
    /// Whether <paramref name="oneDnn"/> (libtorch's convolution) is right for <paramref name="shape"/>; when it is not,
    /// the check made sure <paramref name="fallback"/> is.
    /// </summary>
    /// <exception cref="EfficientNetException">Neither is right: libtorch's CPU kernels are wrong on this CPU.</exception>
    public static bool OneDnnIsRight(ConvolutionShape shape, ConvolutionFunction oneDnn, ConvolutionFunction fallback)
    {
        if (Verdicts.TryGetValue(shape, out var verdict))
        {
            return verdict.OneDnnRight;
        }
        lock (Checking)
        {
            if (!Verdicts.TryGetValue(shape, out verdict))
            {
                verdict = Check(shape, oneDnn, fallback);
                Verdicts[shape] = verdict;
                if (collected is not null)
                {
                    collected.Add(verdict);
                }
                else
                {
                    Report([verdict]);
                }
            }
        }
        return verdict.OneDnnRight;
    }

    /// <summary>
    /// Collects the checks that run on this thread until disposed, then notes them in one line (a model's forward pass);
    /// null where there is nothing to collect.
    /// </summary>
    public static IDisposable? Collect()
    {
        if (CpuKernels.CheckReason is null || collected is not null)
        {
            return null;
        }
        collected = [];
        return new Collection();
    }

    /// <summary>
    /// The first convolution of the kinds seen wrong on CPUs that hide their caches from oneDNN that differs from float64
    /// here, or null (a few small convolutions, milliseconds); inputs are computed, so libtorch's random generator is left as it was.
    /// </summary>
    public static string? FindKnownFault()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // (batch, in, out, size, kernel, channels-last): 1x1 channels-last and 3x3 NCHW shapes oneDNN 3.7 got wrong on such CPUs.
        foreach (var (batch, inChannels, outChannels, size, kernel, channelsLast) in new (long, long, long, long, long, bool)[]
        {
            (32, 144, 40, 12, 1, true), (2, 40, 16, 32, 3, false), (8, 24, 96, 32, 3, false), (64, 96, 80, 4, 1, true),
        })
        {
            var input = Computed([batch, inChannels, size, size], 0.37, channelsLast);
            var weight = Computed([outChannels, inChannels, kernel, kernel], 0.71, channelsLast).div(Math.Sqrt(inChannels * kernel * kernel));
            long padding = kernel / 2;
            var expected = Convolutions.ShiftedProducts(input.to(float64), weight.to(float64), null, 1, padding, 1);
            double error = RelativeError(nn.functional.conv2d(input, weight, padding: [padding, padding]), expected);
            if (!(error <= Tolerance))
            {
                return $"{inChannels} -> {outChannels} channels, {kernel}x{kernel} at {size}x{size}, {(channelsLast ? "channels-last" : "NCHW")}: {Describe(error)}";
            }
        }
        return null;
    }

    private static Verdict Check(ConvolutionShape shape, ConvolutionFunction oneDnn, ConvolutionFunction fallback)
    {
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        using var grad = shape.Gradients ? enable_grad() : no_grad();
        var input = Computed([shape.Batch, shape.InChannels, shape.Height, shape.Width], 0.37, shape.InputChannelsLast);
        var weight = Computed([shape.OutChannels, shape.InChannels / shape.Groups, shape.Kernel, shape.Kernel], 0.71, shape.WeightChannelsLast)
            .div(Math.Sqrt(shape.InChannels / shape.Groups * shape.Kernel * shape.Kernel));
        var bias = shape.Bias ? Computed([shape.OutChannels], 0.29, false) : null;
        string? oneDnnError = CompareWithReference(shape, Run(shape, oneDnn, input, weight, bias), input, weight, bias);
        if (oneDnnError is not null && CompareWithReference(shape, Run(shape, fallback, input, weight, bias), input, weight, bias) is { } fallbackError)
        {
            throw new EfficientNetException(
                $"libtorch's CPU convolutions give wrong results on this CPU ({shape}: {oneDnnError} on oneDNN, {fallbackError} without it); " +
                "run on another machine or report the CPU (lscpu) with this message");
        }
        return new Verdict(shape, oneDnnError is null, oneDnnError, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Output and gradients of <paramref name="convolution"/> on copies of the inputs, in the shape's mode; the output's
    /// gradient is <paramref name="outputGradient"/>, or computed values in the output's layout when null.
    /// </summary>
    private static Outputs Run(ConvolutionShape shape, ConvolutionFunction convolution, Tensor input, Tensor weight, Tensor? bias, Tensor? outputGradient = null)
    {
        var x = input.detach().requires_grad_(shape.InputGradient);
        var w = weight.detach().requires_grad_(shape.WeightGradient);
        var y = convolution(x, w, bias);
        if (shape.Gradients)
        {
            outputGradient ??= Computed(y.shape, 0.53, y.IsChannelsLast());
            y.backward([outputGradient.to(y.dtype)]);
        }
        return new Outputs(y.detach(), x.grad, w.grad, outputGradient);
    }

    /// <summary>
    /// Null when <paramref name="actual"/> matches the float64 result of <see cref="Reference"/>, else what is off; the
    /// reference is computed in chunks of the batch, so its memory stays bounded.
    /// </summary>
    private static string? CompareWithReference(ConvolutionShape shape, Outputs actual, Tensor input, Tensor weight, Tensor? bias)
    {
        long outSide = (shape.Height + 2 * shape.Padding - shape.Kernel) / shape.Stride + 1;
        long perImage = 8 * 6 * Math.Max(shape.InChannels * (shape.Height + 2 * shape.Padding) * (shape.Width + 2 * shape.Padding), shape.OutChannels * outSide * outSide);
        long chunk = Math.Clamp(ChunkBytes / perImage, 1, shape.Batch);
        var w = weight.to(float64);
        var b = bias?.to(float64);
        var output = new Discrepancy("output");
        var inputGradient = new Discrepancy("input gradient");
        Tensor? weightGradient = null;
        for (long start = 0; start < shape.Batch; start += chunk)
        {
            using var chunkScope = NewDisposeScope();
            var images = TensorIndex.Slice(start, Math.Min(start + chunk, shape.Batch));
            var expected = Reference(shape, input[images].to(float64), w, b, actual.OutputGradient?[images].to(float64));
            output.Add(actual.Output[images], expected.Output);
            if (expected.InputGradient is not null)
            {
                inputGradient.Add(actual.InputGradient![images], expected.InputGradient);
            }
            if (expected.WeightGradient is not null)
            {
                weightGradient = weightGradient is null ? expected.WeightGradient.MoveToOuterDisposeScope() : weightGradient.add_(expected.WeightGradient);
            }
        }
        var weightDiscrepancy = new Discrepancy("weight gradient");
        if (weightGradient is not null)
        {
            weightDiscrepancy.Add(actual.WeightGradient!, weightGradient);
        }
        return output.Problem ?? inputGradient.Problem ?? weightDiscrepancy.Problem;
    }

    /// <summary>
    /// The convolution, and given the output's gradient its input and weight gradients, computed directly as sums over
    /// kernel offsets (i, j) of the strided input window at (i, j) and the weight's column there, in channels-last rows;
    /// no convolution kernel and no autograd, so nothing it shares with what it checks but element-wise and matrix arithmetic.
    /// </summary>
    private static Outputs Reference(ConvolutionShape shape, Tensor input, Tensor weight, Tensor? bias, Tensor? outputGradient)
    {
        using var noGrad = no_grad();
        long kernel = shape.Kernel, stride = shape.Stride, padding = shape.Padding;
        bool depthwise = shape.Groups > 1;
        var padded = nn.functional.pad(input.permute(0, 2, 3, 1).contiguous(), [0, 0, padding, padding, padding, padding]);
        long outHeight = (padded.shape[1] - kernel) / stride + 1, outWidth = (padded.shape[2] - kernel) / stride + 1;
        var output = zeros([input.shape[0], outHeight, outWidth, shape.OutChannels], float64);
        var gradient = outputGradient?.permute(0, 2, 3, 1).contiguous();
        var paddedInputGradient = shape.InputGradient ? zeros_like(padded) : null;
        var weightGradient = shape.WeightGradient ? zeros_like(weight) : null;
        for (long i = 0; i < kernel; i++)
        {
            for (long j = 0; j < kernel; j++)
            {
                var rows = TensorIndex.Slice(i, i + stride * (outHeight - 1) + 1, stride);
                var columns = TensorIndex.Slice(j, j + stride * (outWidth - 1) + 1, stride);
                var window = padded[TensorIndex.Colon, rows, columns];
                var taps = weight[TensorIndex.Colon, TensorIndex.Colon, i, j];
                if (depthwise)
                {
                    var perChannel = taps.view(-1);
                    output.addcmul_(window, perChannel, 1);
                    paddedInputGradient?[TensorIndex.Colon, rows, columns].addcmul_(gradient!, perChannel, 1);
                    weightGradient?[TensorIndex.Colon, 0, i, j].copy_(einsum("nhwc,nhwc->c", gradient!, window));
                }
                else
                {
                    output.add_(window.matmul(taps.t()));
                    paddedInputGradient?[TensorIndex.Colon, rows, columns].add_(gradient!.matmul(taps));
                    weightGradient?[TensorIndex.Colon, TensorIndex.Colon, i, j].copy_(
                        gradient!.reshape(-1, shape.OutChannels).t().matmul(window.reshape(-1, shape.InChannels)));
                }
            }
        }
        if (bias is not null)
        {
            output.add_(bias);
        }
        var inputGradient = paddedInputGradient?[TensorIndex.Colon, TensorIndex.Slice(padding, padding + shape.Height), TensorIndex.Slice(padding, padding + shape.Width)];
        return new Outputs(output.permute(0, 3, 1, 2), inputGradient?.permute(0, 3, 1, 2), weightGradient, outputGradient);
    }

    private static double RelativeError(Tensor actual, Tensor expected)
    {
        var discrepancy = new Discrepancy("");
        discrepancy.Add(actual, expected);
        return discrepancy.Error;
    }

    private static string Describe(double error) => double.IsNaN(error) ? "NaN" : $"off by {error:P0} of the result's range";

    /// <summary>sin(a·i) over the flat index i, float32, in NCHW or channels-last strides.</summary>
    private static Tensor Computed(long[] shape, double a, bool channelsLast)
    {
        var values = arange(shape.Aggregate(1L, (x, y) => x * y), dtype: float32).mul_(a).sin_().view(shape);
        return channelsLast ? values.ToChannelsLast() : values;
    }

    private static void Report(IReadOnlyList<Verdict> verdicts)
    {
        if (CpuKernels.Notes is not { } notes || verdicts.Count == 0)
        {
            return;
        }
        var wrong = verdicts.Where(v => !v.OneDnnRight).ToList();
        bool first = Interlocked.Exchange(ref notesWritten, 1) == 0;
        if (!first && wrong.Count == 0)
        {
            return;
        }
        string outcome = wrong.Count == 0
            ? "all right on oneDNN"
            : $"{verdicts.Count - wrong.Count} right on oneDNN, {wrong.Count} wrong there and computed without it ({string.Join("; ", wrong.Select(v => $"{v.Shape}: {v.OneDnnError}"))})";
        string what = $"{verdicts.Count} convolution shape{(verdicts.Count == 1 ? "" : "s")} ({(verdicts[0].Shape.Gradients ? "output and gradients" : "output")}) in {verdicts.Sum(v => v.Seconds):F1} s: {outcome}";
        notes(first
            ? $"convolutions are checked against float64 before their first use, as this is {CpuKernels.CheckReason}; 1x1 convolutions run as matrix multiplies; {what}"
            : what);
    }

    private sealed record Outputs(Tensor Output, Tensor? InputGradient, Tensor? WeightGradient, Tensor? OutputGradient);

    /// <summary>The largest error of a result over its parts, as a share of the reference's largest magnitude (NaN stays NaN).</summary>
    private sealed class Discrepancy(string name)
    {
        private double largestError;
        private double largestMagnitude;

        public double Error => largestError / Math.Max(largestMagnitude, double.Epsilon);

        public string? Problem => Error <= Tolerance ? null : $"{name} {Describe(Error)}";

        public void Add(Tensor actual, Tensor expected)
        {
            double error = (actual.to(float64) - expected).abs().max().item<double>();
            largestError = double.IsNaN(error) || double.IsNaN(largestError) ? double.NaN : Math.Max(largestError, error);
            largestMagnitude = Math.Max(largestMagnitude, expected.abs().max().item<double>());
        }
    }

    private sealed class Collection : IDisposable
    {
        public void Dispose()
        {
            var verdicts = collected!;
            collected = null;
            Report(verdicts);
        }
    }
}
