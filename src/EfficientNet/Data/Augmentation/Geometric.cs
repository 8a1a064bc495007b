using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Data.Augmentation;

/// <summary>Mirrors each image left-right with probability <paramref name="Probability"/> (Keras RandomFlip("horizontal")).</summary>
internal sealed record RandomHorizontalFlip(double Probability = 0.5) : IBatchTransform
{
    /// <inheritdoc/>
    public Tensor Apply(Tensor images, Random random)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(random);
        bool[] flip = Enumerable.Range(0, (int)images.shape[0]).Select(_ => random.NextDouble() < Probability).ToArray();
        if (!flip.Any(f => f))
        {
            return images;
        }
        using var mask = tensor(flip).view(-1, 1, 1, 1).to(images.device);
        return where(mask, images.flip(3), images);
    }
}

/// <summary>
/// Random rotation, zoom and translation in one resampling, as Keras's RandomRotation(r),
/// RandomZoom(z) and RandomTranslation(t, t): angle uniform in ±r turns, scale uniform in 1 ± z,
/// shift uniform in ±t of the image size; bilinear, edges filled by reflection (Keras's default).
/// </summary>
/// <param name="RotationTurns">Largest rotation as a fraction of a full turn (0.1 = 36 degrees).</param>
/// <param name="Zoom">Largest relative zoom in or out.</param>
/// <param name="Translation">Largest shift as a fraction of height and width.</param>
internal sealed record RandomAffine(double RotationTurns, double Zoom, double Translation) : IBatchTransform
{
    /// <inheritdoc/>
    public Tensor Apply(Tensor images, Random random)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(random);
        if (RotationTurns == 0 && Zoom == 0 && Translation == 0)
        {
            return images;
        }
        int n = (int)images.shape[0];
        var parameters = Enumerable.Range(0, n).Select(_ => new AffineParameters(
            random.Symmetric(RotationTurns) * 2 * Math.PI,
            1 + random.Symmetric(Zoom),
            random.Symmetric(Translation),
            random.Symmetric(Translation))).ToArray();
        return Warp(images, parameters, GridSamplePaddingMode.Reflection);
    }

    /// <summary>Applies one affine map per image (output pixel → input pixel), bilinear.</summary>
    internal static Tensor Warp(Tensor images, IReadOnlyList<AffineParameters> parameters, GridSamplePaddingMode padding)
    {
        int n = (int)images.shape[0];
        float[] theta = new float[n * 6];
        for (int i = 0; i < n; i++)
        {
            var p = parameters[i];
            double cos = Math.Cos(p.Angle) * p.Scale, sin = Math.Sin(p.Angle) * p.Scale;
            // affine_grid works in normalised coordinates [-1, 1]: a shift of t image sizes is 2t.
            theta[i * 6 + 0] = (float)(cos + p.ShearY * -sin);
            theta[i * 6 + 1] = (float)(-sin + p.ShearX * cos);
            theta[i * 6 + 2] = (float)(-2 * p.ShiftX);
            theta[i * 6 + 3] = (float)(sin + p.ShearY * cos);
            theta[i * 6 + 4] = (float)(cos + p.ShearX * sin);
            theta[i * 6 + 5] = (float)(-2 * p.ShiftY);
        }
        using var scope = NewDisposeScope();
        var matrices = tensor(theta, [n, 2, 3]).to(images.device);
        var grid = nn.functional.affine_grid(matrices, images.shape, align_corners: false);
        return nn.functional.grid_sample(images, grid, GridSampleMode.Bilinear, padding, align_corners: false).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// One image's affine map, applied to output coordinates to find where to sample: rotation by
/// <see cref="Angle"/> radians, sampling scale <see cref="Scale"/> (above 1 zooms out), shift in image
/// sizes, shear factors.
/// </summary>
internal readonly record struct AffineParameters(double Angle, double Scale, double ShiftX, double ShiftY, double ShearX = 0, double ShearY = 0);

/// <summary>
/// Pads by <paramref name="Padding"/> pixels, mirroring the image at its edges (reflect padding, as the CIFAR recipe
/// this library's fast recipe comes from), and crops a random window of the original size back.
/// </summary>
internal sealed record RandomCropWithPadding(int Padding = 4) : IBatchTransform
{
    /// <inheritdoc/>
    public Tensor Apply(Tensor images, Random random)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(random);
        if (Padding == 0)
        {
            return images;
        }
        int n = (int)images.shape[0];
        long h = images.shape[2], w = images.shape[3];
        if (Padding >= Math.Min(h, w))
        {
            throw new EfficientNetException($"AugmentationOptions.CropPadding {Padding} must be smaller than the image ({w}x{h}): reflect padding mirrors the image's own pixels");
        }
        using var scope = NewDisposeScope();
        var padded = nn.functional.pad(images, [Padding, Padding, Padding, Padding], PaddingModes.Reflect);
        var crops = new Tensor[n];
        for (int i = 0; i < n; i++)
        {
            int top = random.Next(2 * Padding + 1), left = random.Next(2 * Padding + 1);
            crops[i] = padded[i, .., top..(top + (int)h), left..(left + (int)w)];
        }
        return stack(crops).MoveToOuterDisposeScope();
    }
}
