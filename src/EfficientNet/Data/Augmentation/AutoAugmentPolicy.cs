using EfficientNet.Layers;
using static TorchSharp.torch;

namespace EfficientNet.Data.Augmentation;

/// <summary>The image operations of RandAugment and TrivialAugment.</summary>
internal enum AugmentOp
{
    Identity, ShearX, ShearY, TranslateX, TranslateY, Rotate, Brightness, Color, Contrast, Sharpness,
    Posterize, Solarize, AutoContrast, Equalize,
}

/// <summary>
/// Automatic augmentation policies, per image, with torchvision's operation set and magnitude tables
/// (31 bins): RandAugment (Cubuk et al., 2020: <c>Ops</c> random operations at fixed magnitude
/// <c>Magnitude</c>) and TrivialAugmentWide (Müller &amp; Hutter, 2021: one operation, random magnitude).
/// Geometric operations fill with black, as torchvision does.
/// </summary>
internal sealed record AutoAugmentPolicy(bool Trivial, int Ops = 2, int Magnitude = 9) : IBatchTransform
{
    private const int Bins = 31;

    private static readonly AugmentOp[] All = Enum.GetValues<AugmentOp>();

    /// <summary>RandAugment with torchvision's defaults (2 operations, magnitude 9 of 30).</summary>
    public static AutoAugmentPolicy RandAugment(int ops = 2, int magnitude = 9)
    {
        if (ops < 1 || magnitude is < 0 or >= Bins)
        {
            throw new EfficientNetException($"RandAugment needs at least one operation and a magnitude in 0..{Bins - 1}, got {ops} and {magnitude}");
        }
        return new AutoAugmentPolicy(false, ops, magnitude);
    }

    /// <summary>TrivialAugmentWide: one random operation at a random magnitude per image.</summary>
    public static AutoAugmentPolicy TrivialAugment() => new(true, 1, 0);

    /// <inheritdoc/>
    public Tensor Apply(Tensor images, Random random)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(random);
        int n = (int)images.shape[0];
        using var scope = NewDisposeScope();
        var result = new Tensor[n];
        for (int i = 0; i < n; i++)
        {
            var image = images[i];
            for (int k = 0; k < Ops; k++)
            {
                var op = All[random.Next(All.Length)];
                int bin = Trivial ? random.Next(Bins) : Magnitude;
                double sign = random.Next(2) == 0 ? 1 : -1;
                image = ApplyOp(image, op, Strength(op, bin, image.shape[2]) * (IsSigned(op) ? sign : 1));
            }
            result[i] = image;
        }
        return stack(result).MoveToOuterDisposeScope();
    }

    /// <summary>The magnitude of <paramref name="op"/> at <paramref name="bin"/> of 31 (torchvision's tables).</summary>
    internal double Strength(AugmentOp op, int bin, long width)
    {
        double t = bin / (double)(Bins - 1);
        return op switch
        {
            AugmentOp.ShearX or AugmentOp.ShearY => t * (Trivial ? 0.99 : 0.3),
            AugmentOp.TranslateX or AugmentOp.TranslateY => t * (Trivial ? 32.0 : 150.0 / 331 * width),
            AugmentOp.Rotate => t * (Trivial ? 135.0 : 30.0),
            AugmentOp.Brightness or AugmentOp.Color or AugmentOp.Contrast or AugmentOp.Sharpness => t * (Trivial ? 0.99 : 0.9),
            AugmentOp.Posterize => 8 - Math.Round(bin / ((Bins - 1) / (Trivial ? 6.0 : 4.0))),
            AugmentOp.Solarize => 1 - t,
            _ => 0,
        };
    }

    private static bool IsSigned(AugmentOp op) => op is AugmentOp.ShearX or AugmentOp.ShearY or AugmentOp.TranslateX or AugmentOp.TranslateY
        or AugmentOp.Rotate or AugmentOp.Brightness or AugmentOp.Color or AugmentOp.Contrast or AugmentOp.Sharpness;

    /// <summary>One operation on one (3, H, W) image in [0, 1].</summary>
    internal static Tensor ApplyOp(Tensor image, AugmentOp op, double m)
    {
        long w = image.shape[2], h = image.shape[1];
        return op switch
        {
            AugmentOp.Identity => image,
            AugmentOp.ShearX => Warp(image, new AffineParameters(0, 1, 0, 0, ShearX: m)),
            AugmentOp.ShearY => Warp(image, new AffineParameters(0, 1, 0, 0, ShearY: m)),
            AugmentOp.TranslateX => Warp(image, new AffineParameters(0, 1, m / w, 0)),
            AugmentOp.TranslateY => Warp(image, new AffineParameters(0, 1, 0, m / h)),
            AugmentOp.Rotate => Warp(image, new AffineParameters(m * Math.PI / 180, 1, 0, 0)),
            AugmentOp.Brightness => Blend(zeros_like(image), image, 1 + m),
            AugmentOp.Color => Blend(Grayscale(image).expand_as(image), image, 1 + m),
            AugmentOp.Contrast => Blend(Grayscale(image).mean().expand_as(image), image, 1 + m),
            AugmentOp.Sharpness => Blend(Smooth(image), image, 1 + m),
            AugmentOp.Posterize => Posterize(image, (int)m),
            AugmentOp.Solarize => where(image >= m, 1 - image, image),
            AugmentOp.AutoContrast => AutoContrast(image),
            AugmentOp.Equalize => Equalize(image),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
    }

    private static Tensor Warp(Tensor image, AffineParameters p) =>
        RandomAffine.Warp(image.unsqueeze(0), [p], GridSamplePaddingMode.Zeros)[0];

    /// <summary>PIL's ImageEnhance: degenerate + factor * (image - degenerate), clipped.</summary>
    private static Tensor Blend(Tensor degenerate, Tensor image, double factor) => (degenerate + (image - degenerate) * factor).clamp(0, 1);

    private static Tensor Grayscale(Tensor image) =>
        (image[0] * 0.299 + image[1] * 0.587 + image[2] * 0.114).unsqueeze(0);

    /// <summary>PIL's SMOOTH filter ([1 1 1; 1 5 1; 1 1 1] / 13), borders kept, as torchvision's adjust_sharpness.</summary>
    private static Tensor Smooth(Tensor image)
    {
        var kernel = tensor(new float[] { 1, 1, 1, 1, 5, 1, 1, 1, 1 }, [1, 1, 3, 3]).div(13).expand(3, 1, 3, 3).to(image.device);
        var blurred = Convolutions.Apply(image.unsqueeze(0), kernel, null, stride: 1, padding: 0, groups: 3)[0];
        var result = image.clone();
        result[.., 1..^1, 1..^1] = blurred;
        return result;
    }

    private static Tensor Posterize(Tensor image, int bits)
    {
        int mask = ~((1 << (8 - bits)) - 1) & 0xFF;
        var bytes = (image * 255).round().to(int32);
        return bytes.bitwise_and(mask).to(float32) / 255;
    }

    private static Tensor AutoContrast(Tensor image)
    {
        var low = image.amin([1, 2], keepdim: true);
        var high = image.amax([1, 2], keepdim: true);
        var range = high - low;
        // A flat channel stays as it is (PIL leaves it unchanged).
        var scale = where(range > 0, 1 / range.clamp_min(1e-12), ones_like(range));
        var offset = where(range > 0, low, zeros_like(low));
        return ((image - offset) * scale).clamp(0, 1);
    }

    /// <summary>Histogram equalisation per channel on 8-bit values (PIL's ImageOps.equalize).</summary>
    private static Tensor Equalize(Tensor image)
    {
        var channels = new Tensor[3];
        for (int c = 0; c < 3; c++)
        {
            var bytes = (image[c] * 255).round().to(int64);
            var histogram = bytes.flatten().bincount(null, 256);
            long[] counts = histogram.data<long>().ToArray();
            long nonZeroLast = counts.Reverse().First(v => v > 0);
            long step = (counts.Sum() - nonZeroLast) / 255;
            if (step == 0)
            {
                channels[c] = image[c];
                continue;
            }
            float[] lut = new float[256];
            long cumulative = step / 2;
            for (int v = 0; v < 256; v++)
            {
                lut[v] = Math.Min(255, cumulative / step) / 255f;
                cumulative += counts[v];
            }
            channels[c] = tensor(lut).to(image.device)[bytes];
        }
        return stack(channels);
    }
}
