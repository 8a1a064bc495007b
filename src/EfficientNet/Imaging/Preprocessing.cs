using EfficientNet.Imaging;

namespace EfficientNet.Imaging;

/// <summary>
/// How an image becomes a model input: resize so the shorter side is <see cref="ResizeSize"/>, take the
/// centre <see cref="CropSize"/> square, scale to [0, 1] and normalise per channel. When the image
/// already has the target size no resampling happens.
/// </summary>
/// <param name="ResizeSize">Shorter side after resizing.</param>
/// <param name="CropSize">Side of the centre crop (the model's input resolution).</param>
/// <param name="Normalization">Per-channel mean and standard deviation.</param>
/// <param name="Interpolation">Resampling filter of the resize.</param>
public sealed record Preprocessing(int ResizeSize, int CropSize, Normalization Normalization, Interpolation Interpolation = Interpolation.Bicubic)
{
    /// <summary>Resize the shorter side to <paramref name="resolution"/>, crop the centre square, normalise (ImageNet statistics by default).</summary>
    public static Preprocessing ForResolution(int resolution, Normalization? normalization = null) =>
        new(resolution, resolution, normalization ?? Normalization.ImageNet);
}

/// <summary>Resampling filters for resizing.</summary>
public enum Interpolation
{
    /// <summary>Bilinear.</summary>
    Bilinear,

    /// <summary>Bicubic (Catmull-Rom).</summary>
    Bicubic,
}
