using static TorchSharp.torch;

namespace EfficientNet.Data.Augmentation;

/// <summary>
/// Mixes pairs of images in a batch and their targets, which become soft (B, K) distributions:
/// mixup (Zhang et al., 2018) blends whole images, cutmix (Yun et al., 2019) pastes a box. The mixing
/// weight is drawn from Beta(alpha, alpha); when both are enabled one of them is picked per batch.
/// </summary>
/// <param name="MixupAlpha">Beta parameter of mixup; 0 disables it.</param>
/// <param name="CutmixAlpha">Beta parameter of cutmix; 0 disables it.</param>
internal sealed record BatchMixer(double MixupAlpha, double CutmixAlpha)
{
    /// <summary>Whether any mixing is enabled.</summary>
    public bool Enabled => MixupAlpha > 0 || CutmixAlpha > 0;

    /// <summary>Mixes <paramref name="images"/> (B, 3, H, W) and one-hot labels into soft targets (B, <paramref name="classes"/>).</summary>
    public (Tensor Images, Tensor Targets) Apply(Tensor images, Tensor labels, int classes, Random random)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(random);
        using var scope = NewDisposeScope();
        var oneHot = nn.functional.one_hot(labels, classes).to(float32);
        if (!Enabled)
        {
            return (images.alias().MoveToOuterDisposeScope(), oneHot.MoveToOuterDisposeScope());
        }
        int n = (int)images.shape[0];
        long[] order = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        random.Shuffle(order);
        var permutation = tensor(order).to(images.device);
        bool cutmix = CutmixAlpha > 0 && (MixupAlpha <= 0 || random.Next(2) == 0);
        double lambda = SampleBeta(random, cutmix ? CutmixAlpha : MixupAlpha);
        Tensor mixed;
        if (cutmix)
        {
            int h = (int)images.shape[2], w = (int)images.shape[3];
            double cut = Math.Sqrt(1 - lambda);
            int ch = (int)(h * cut), cw = (int)(w * cut);
            int cy = random.Next(h), cx = random.Next(w);
            int top = Math.Clamp(cy - ch / 2, 0, h), bottom = Math.Clamp(cy + ch / 2, 0, h);
            int left = Math.Clamp(cx - cw / 2, 0, w), right = Math.Clamp(cx + cw / 2, 0, w);
            mixed = images.clone();
            mixed[.., .., top..bottom, left..right] = images.index_select(0, permutation)[.., .., top..bottom, left..right];
            // The weight is the area actually kept after clipping the box to the image.
            lambda = 1 - (double)((bottom - top) * (right - left)) / (h * w);
        }
        else
        {
            mixed = images * lambda + images.index_select(0, permutation) * (1 - lambda);
        }
        var targets = oneHot * lambda + oneHot.index_select(0, permutation) * (1 - lambda);
        return (mixed.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }

    /// <summary>Beta(a, a) as X / (X + Y) with X, Y ~ Gamma(a, 1) (Marsaglia–Tsang).</summary>
    internal static double SampleBeta(Random random, double alpha)
    {
        double x = SampleGamma(random, alpha), y = SampleGamma(random, alpha);
        return x + y == 0 ? 0.5 : x / (x + y);
    }

    private static double SampleGamma(Random random, double shape)
    {
        if (shape < 1)
        {
            // Boost: Gamma(a) = Gamma(a + 1) * U^(1/a).
            return SampleGamma(random, shape + 1) * Math.Pow(random.NextDouble(), 1 / shape);
        }
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal(random);
                v = 1 + c * x;
            }
            while (v <= 0);
            v = v * v * v;
            double u = random.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v)))
            {
                return d * v;
            }
        }
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
