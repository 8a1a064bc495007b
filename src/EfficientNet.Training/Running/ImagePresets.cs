using EfficientNet.Data;
using EfficientNet.Training.Options;

namespace EfficientNet.Training.Running;

/// <summary>
/// How a run's images are shaped, training and validation side by side (as torchvision's classification presets):
/// training images are random-resized crops of the full photo with flips where the options allow, else centre squares;
/// validation images are always the centre square, as prediction takes them.
/// </summary>
internal static class ImagePresets
{
    /// <summary>Training images at this size or more are random-resized crops (so streamed) unless told otherwise.</summary>
    public const int RandomResizedCropFrom = 128;

    /// <summary>Validation images: shorter side resized to the run's size, centre square.</summary>
    public const SampleGeometry Validation = SampleGeometry.CentreCrop;

    /// <summary>
    /// Whether the training images are random-resized crops of the full photo: as <see cref="ImageReading.RandomResizedCrop"/>
    /// says, else at <see cref="RandomResizedCropFrom"/> pixels or more unless the images are asked to be held in memory or
    /// the features cached. Decided by the options alone, never by the memory available, so that a run and its resume on
    /// another machine augment alike; the trainer records the answer in options.json.
    /// </summary>
    public static bool RandomResizedCrops(TrainOptions options, int size) =>
        options.Images.RandomResizedCrop ?? (size >= RandomResizedCropFrom && !options.CachedFeatures && options.Images.Cache != ImageCache.Memory);

    /// <summary>The training images' geometry at <paramref name="size"/> (see <see cref="RandomResizedCrops"/>).</summary>
    public static SampleGeometry Training(TrainOptions options, int size) =>
        RandomResizedCrops(options, size) ? SampleGeometry.RandomResizedCrop : SampleGeometry.CentreCrop;

    /// <summary>What the user is told of both geometries at <paramref name="size"/>.</summary>
    public static string Describe(SampleGeometry training, int size) => training == SampleGeometry.RandomResizedCrop
        ? $"training images: random-resized crops of the full photo (8-100% of the area, aspect 3/4-4/3) and flips, resized to {size}x{size}; validation images: shorter side resized to {size}, centre square"
        : $"training and validation images: shorter side resized to {size}, centre square";
}
