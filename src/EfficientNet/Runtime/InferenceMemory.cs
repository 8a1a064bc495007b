using System.Globalization;
using EfficientNet.Architecture;

namespace EfficientNet.Runtime;

/// <summary>
/// Whether a forward pass of a batch fits in memory, estimated from the architecture before anything is allocated,
/// so that a batch far too large is refused with the estimate instead of ending in the kernel's out-of-memory kill.
/// </summary>
internal static class InferenceMemory
{
    // Float32 activations, with half again for allocator rounding, layout copies and kernel workspaces.
    private const double BytesPerValue = 4 * 1.5;

    /// <summary>
    /// Bytes one image's forward pass without gradients holds: the input, the stem's output, and every block's hidden
    /// and output tensors, which stay alive until the pass returns (they are disposed with its scope), and the head's
    /// output: a little above what B0 holds resident per image (docs/performance.md#measurements-behind-the-code).
    /// ONNX Runtime frees as it goes and needs less.
    /// </summary>
    public static long PerImage(VariantSpec spec, int resolution, bool strideOneStem = false)
    {
        ArgumentNullException.ThrowIfNull(spec);
        long side = strideOneStem ? resolution : (resolution + 1) / 2;
        long values = 3L * resolution * resolution + spec.StemChannels * side * side;
        int channels = spec.StemChannels;
        foreach (var stage in spec.Stages)
        {
            for (int layer = 0; layer < stage.Layers; layer++)
            {
                int stride = layer == 0 ? stage.Stride : 1;
                long outSide = (side + stride - 1) / stride;
                // The expanded tensor (MBConv: before and after the depthwise conv; a Fused-MBConv's full conv); without
                // expansion an MBConv has only the depthwise output and a Fused-MBConv is one conv.
                long hidden = (long)Math.Round(channels * stage.ExpandRatio);
                bool expands = stage.ExpandRatio != 1;
                values += stage.OutputChannels * outSide * outSide + stage.Kind switch
                {
                    BlockKind.MBConv => hidden * outSide * outSide + (expands ? hidden * side * side : 0),
                    _ => expands ? hidden * outSide * outSide : 0,
                };
                (channels, side) = (stage.OutputChannels, outSide);
            }
        }
        values += (long)spec.HeadChannels * side * side;
        return (long)(values * BytesPerValue);
    }

    /// <summary>Refuses a batch of <paramref name="batch"/> images of <paramref name="resolution"/> x <paramref name="resolution"/> that <paramref name="variant"/>'s forward pass cannot hold in the memory available now.</summary>
    /// <exception cref="EfficientNetException">The estimate is more than the available memory.</exception>
    public static void Require(int batch, string variant, int resolution) =>
        Require(batch, PerImage(Architecture.Variants.Get(variant), resolution), $"images at {resolution}x{resolution}");

    /// <summary>Refuses a batch of <paramref name="batch"/> images of <paramref name="perImage"/> bytes that the memory available now cannot hold.</summary>
    /// <exception cref="EfficientNetException">The estimate is more than the available memory; the message gives both and the largest batch that fits.</exception>
    public static void Require(int batch, long perImage, string what)
    {
        long need = batch * perImage;
        long available = AvailableMemory.Bytes();
        if (need > available)
        {
            throw new EfficientNetException(
                $"a batch of {batch} {what} needs about {Gib(need)} GiB for its activations (estimated), more than the {Gib(available)} GiB of memory available; use a batch of at most {Math.Max(1, available / perImage)}");
        }
    }

    private static string Gib(long bytes) => (bytes / (double)(1L << 30)).ToString("0.#", CultureInfo.InvariantCulture);
}
