using EfficientNet.Architecture;
using EfficientNet.Data;
using EfficientNet.Imaging;

namespace EfficientNet.Training;

/// <summary>Loads the training and validation sets a <see cref="TrainOptions"/> describes.</summary>
internal static class TrainingData
{
    /// <summary>Training set, validation set and the input normalisation to use with them.</summary>
    /// <param name="options">What to load.</param>
    /// <param name="note">Told what the user should know, e.g. hidden folders skipped in an image root.</param>
    /// <param name="cancellation">Stops a download of CIFAR-10, keeping nothing.</param>
    public static (ImageDataset Train, ImageDataset Validation, Normalization Normalization) Load(TrainOptions options, Action<string>? note = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ImageDataset all, train, validation;
        Normalization normalization;
        if (options.Dataset == DatasetKind.Cifar10)
        {
            string folder = options.Data ?? Cifar10.EnsureAvailable(options.CacheDirectory, cancellation: cancellation);
            all = Cifar10.Load(folder, Cifar10Split.Train);
            normalization = Normalization.Cifar10;
            (train, validation) = DatasetSplit.Split(all, options.ValFraction, options.Seed);
        }
        else
        {
            int size = options.Resolution ?? Variants.Get(options.Variant ?? "b0").Resolution;
            foreach (string root in new[] { options.Data!, options.ValData }.OfType<string>())
            {
                if (Directory.Exists(root) && ImageFolder.HiddenFolders(root) is { Count: > 0 } hidden)
                {
                    note?.Invoke($"skipped hidden folders in '{root}' (not classes): {string.Join(", ", hidden)}");
                }
            }
            all = ImageFolder.Load(options.Data!, size);
            normalization = Normalization.ImageNet;
            (train, validation) = options.ValData is { } valFolder
                ? (all, ImageFolder.Load(valFolder, size, all.Classes))
                : DatasetSplit.Split(all, options.ValFraction, options.Seed);
        }
        if (train.Classes.Count < 2)
        {
            throw new EfficientNetException($"{all.Source} has {train.Classes.Count} class; classification needs at least two");
        }
        if (options.TrainLimit > 0 && options.TrainLimit < train.Count)
        {
            (train, _) = DatasetSplit.Split(train, 1 - (double)options.TrainLimit / train.Count, options.Seed);
        }
        // CIFAR-10 at another resolution: resized once here, after the split, as prediction resizes a 32x32 file.
        if (options.Dataset == DatasetKind.Cifar10 && options.Resolution is int resolution and not 32)
        {
            (train, validation) = (train.Resized(resolution), validation.Resized(resolution));
            note?.Invoke($"CIFAR-10 resized to {resolution}x{resolution} (bicubic): {(train.Count + validation.Count) * 3L * resolution * resolution / (1 << 20)} MiB of pixels in memory");
        }
        return (train, validation, normalization);
    }
}
