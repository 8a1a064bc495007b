namespace EfficientNet.Data.Augmentation;

/// <summary>
/// The crop box of torchvision's <c>RandomResizedCrop</c>: an area of <see cref="MinScale"/>–<see cref="MaxScale"/> of
/// the photo and an aspect ratio (width / height) of <see cref="MinRatio"/>–<see cref="MaxRatio"/> sampled in log space,
/// placed uniformly; after 10 draws that do not fit, the largest centred box within the ratio bounds.
/// </summary>
internal static class RandomResizedCrop
{
    /// <summary>Smallest share of the photo's area a crop takes.</summary>
    public const double MinScale = 0.08;

    /// <summary>Largest share of the photo's area a crop takes.</summary>
    public const double MaxScale = 1.0;

    /// <summary>Narrowest aspect ratio (width / height).</summary>
    public const double MinRatio = 3.0 / 4.0;

    /// <summary>Widest aspect ratio (width / height).</summary>
    public const double MaxRatio = 4.0 / 3.0;

    private const int Attempts = 10;

    /// <summary>A box (left, top, width, height) inside a <paramref name="width"/> x <paramref name="height"/> photo.</summary>
    public static (int Left, int Top, int Width, int Height) Box(int width, int height, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        double area = (double)width * height;
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            double target = area * (MinScale + (MaxScale - MinScale) * random.NextDouble());
            double ratio = Math.Exp(Math.Log(MinRatio) + (Math.Log(MaxRatio) - Math.Log(MinRatio)) * random.NextDouble());
            int w = (int)Math.Round(Math.Sqrt(target * ratio));
            int h = (int)Math.Round(Math.Sqrt(target / ratio));
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                return (random.Next(width - w + 1), random.Next(height - h + 1), w, h);
            }
        }
        return Fallback(width, height);
    }

    /// <summary>The centred box used after the draws fail: the whole photo, cut to the nearest ratio bound when it is outside them.</summary>
    public static (int Left, int Top, int Width, int Height) Fallback(int width, int height)
    {
        double ratio = (double)width / height;
        var (w, h) = ratio < MinRatio ? (width, (int)Math.Round(width / MinRatio))
            : ratio > MaxRatio ? ((int)Math.Round(height * MaxRatio), height)
            : (width, height);
        return ((width - w) / 2, (height - h) / 2, w, h);
    }
}
