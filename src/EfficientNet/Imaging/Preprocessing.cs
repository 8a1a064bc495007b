namespace EfficientNet.Imaging;

/// <summary>
/// How an image becomes a model input: resize so the shorter side is <see cref="ResizeSize"/>, take the
/// centre <see cref="CropSize"/> square, scale to [0, 1] and normalise per channel. When the image
/// already has the target size no resampling happens.
/// </summary>
/// <param name="ResizeSize">Shorter side after resizing.</param>
/// <param name="CropSize">Side of the centre crop (the model's input resolution).</param>
/// <param name="Mean">Per-channel mean (RGB) subtracted after scaling to [0, 1].</param>
/// <param name="Std">Per-channel standard deviation (RGB) divided by.</param>
public sealed record Preprocessing(int ResizeSize, int CropSize, float[] Mean, float[] Std)
{
    /// <summary>ImageNet channel means (RGB), as torchvision's presets.</summary>
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];

    /// <summary>ImageNet channel standard deviations (RGB), as torchvision's presets.</summary>
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    /// <summary>Resize the shorter side to <paramref name="resolution"/>, crop the centre square, ImageNet normalisation.</summary>
    public static Preprocessing ForResolution(int resolution) => new(resolution, resolution, ImageNetMean, ImageNetStd);
}
