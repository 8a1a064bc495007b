namespace EfficientNet.Architecture;

/// <summary>
/// The rounding rules that turn compound-scaling multipliers into whole layer sizes. They follow the
/// original TensorFlow code (<c>round_filters</c> / <c>round_repeats</c> in Keras, <c>_make_divisible</c>
/// and <c>adjust_depth</c> in torchvision), so that scaled channel counts, and with them parameter
/// counts and pretrained weight shapes, match the published models exactly.
/// </summary>
internal static class ChannelScaling
{
    /// <summary>Channel counts are kept multiples of 8 so that vectorised kernels stay aligned.</summary>
    public const int Divisor = 8;

    /// <summary>
    /// Scales <paramref name="channels"/> by <paramref name="width"/>, rounds to the nearest multiple of
    /// <paramref name="divisor"/> (at least <paramref name="divisor"/>), and, with
    /// <paramref name="neverLoseTenPercent"/>, never rounds down by more than 10%: a layer that would
    /// lose more than a tenth of its width gets one more step. EfficientNet (V1) and torchvision apply
    /// that rule; Keras's EfficientNetV2 does not (it matters for V2-B3: 16 x 1.2 gives 16, not 24).
    /// </summary>
    public static int RoundFilters(double channels, double width, int divisor = Divisor, bool neverLoseTenPercent = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(divisor);
        double scaled = channels * width;
        int rounded = Math.Max(divisor, (int)(scaled + divisor / 2.0) / divisor * divisor);
        if (neverLoseTenPercent && rounded < 0.9 * scaled)
        {
            rounded += divisor;
        }
        return rounded;
    }

    /// <summary>Scales a stage's block count by <paramref name="depth"/>, rounding up (a stage never shrinks).</summary>
    public static int RoundRepeats(int repeats, double depth) => (int)Math.Ceiling(repeats * depth);
}
