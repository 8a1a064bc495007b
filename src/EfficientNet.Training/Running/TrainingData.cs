using EfficientNet.Architecture;
using EfficientNet.Data;
using EfficientNet.Imaging;
using EfficientNet.Runtime;
using EfficientNet.Training.Options;
using EfficientNet.Training.Reporting;

namespace EfficientNet.Training.Running;

/// <summary>Loads the training and validation sets a <see cref="TrainOptions"/> describes.</summary>
internal static class TrainingData
{
    /// <summary>
    /// Training set, validation set, the input normalisation to use with them, and (with
    /// <see cref="ImageReading.SkipBadImages"/>) the log of the unreadable images they skip, which holds those left out
    /// while decoding a set into memory when this returns.
    /// </summary>
    /// <param name="options">What to load.</param>
    /// <param name="note">Told what the user should know, e.g. hidden folders skipped in an image root.</param>
    /// <param name="cancellation">Stops a download of CIFAR-10, keeping nothing.</param>
    public static (ImageDataset Train, ImageDataset Validation, Normalization Normalization, BadImageLog? BadImages) Load(
        TrainOptions options, Action<string>? note = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var bad = options.Images.SkipBadImages && options.Dataset == DatasetKind.Folder ? new BadImageLog() : null;
        var (all, train, validation, normalization) = options.Dataset == DatasetKind.Cifar10
            ? LoadCifar10(options, cancellation)
            : LoadFolder(options, bad, note);
        if (train.Classes.Count < 2)
        {
            throw new EfficientNetException($"{all.Source} has {train.Classes.Count} class; classification needs at least two");
        }
        if (options.TrainLimit > 0 && options.TrainLimit < train.Count)
        {
            (train, _) = DatasetSplit.Split(train, 1 - (double)options.TrainLimit / train.Count, options.Seed);
        }
        // CIFAR-10 at another resolution: resized once here, after the split, as prediction resizes a 32x32 file.
        if (options.Dataset == DatasetKind.Cifar10 && options.Resolution is int resolution && resolution != Cifar10.ImageSize)
        {
            (train, validation) = (train.Resized(resolution), validation.Resized(resolution));
            note?.Invoke($"CIFAR-10 resized to {resolution}x{resolution} (bicubic): {(train.Count + validation.Count) * 3L * resolution * resolution / (1 << 20)} MiB of pixels in memory");
        }
        return (train, validation, normalization, bad);
    }

    private static (ImageDataset All, ImageDataset Train, ImageDataset Validation, Normalization Normalization) LoadCifar10(TrainOptions options, CancellationToken cancellation)
    {
        string folder = options.Data ?? Cifar10.EnsureAvailable(options.CacheDirectory, cancellation: cancellation);
        var all = Cifar10.Load(folder, Cifar10Split.Train);
        var (train, validation) = DatasetSplit.Split(all, options.ValFraction, options.Seed);
        return (all, train, validation, Normalization.Cifar10);
    }

    // A folder or list file: listed once (a list file's rows are each checked on disk), then decoded into memory or streamed.
    private static (ImageDataset All, ImageDataset Train, ImageDataset Validation, Normalization Normalization) LoadFolder(TrainOptions options, BadImageLog? bad, Action<string>? note)
    {
        int size = options.Resolution ?? Variants.Get(options.Variant ?? "b0").Resolution;
        foreach (string root in new[] { options.Data!, options.ValData }.OfType<string>())
        {
            if (Directory.Exists(root) && ImageFolder.HiddenFolders(root) is { Count: > 0 } hidden)
            {
                note?.Invoke($"skipped hidden folders in '{root}' (not classes): {string.Join(", ", hidden)}");
            }
        }
        var entries = ImageFolder.Entries(options.Data!, null);
        var valEntries = options.ValData is { } valData ? ImageFolder.Entries(valData, entries.Classes) : null;
        foreach (string warning in Overlaps(options.Data!, entries, options.ValData, valEntries))
        {
            note?.Invoke(warning);
        }
        var (all, train, validation) = InMemory(options, entries.Images.Count + (valEntries?.Images.Count ?? 0), size, ProcessResources.AvailableMemoryBytes(), note)
            ? Decoded(options, entries, valEntries, size, bad)
            : Streamed(options, entries, valEntries, size, bad, note);
        return (all, train, validation, Normalization.ImageNet);
    }

    private static (ImageDataset All, ImageDataset Train, ImageDataset Validation) Decoded(TrainOptions options, ImageEntries entries, ImageEntries? valEntries, int size, BadImageLog? bad)
    {
        var all = ImageFolder.Decode(options.Data!, entries, size, skip: bad?.For(Training));
        var (train, validation) = valEntries is not null
            ? (all, ImageFolder.Decode(options.ValData!, valEntries, size, skip: bad?.For(Validation)))
            : DatasetSplit.Split(all, options.ValFraction, options.Seed);
        return (all, train, validation);
    }

    private static (ImageDataset All, ImageDataset Train, ImageDataset Validation) Streamed(
        TrainOptions options, ImageEntries entries, ImageEntries? valEntries, int size, BadImageLog? bad, Action<string>? note)
    {
        var geometry = ImagePresets.Training(options, size);
        var all = ImageFolder.Stream(options.Data!, entries, size, geometry, options.Images.Workers);
        var (train, validation) = valEntries is not null
            ? (all, ImageFolder.Stream(options.ValData!, valEntries, size, ImagePresets.Validation, options.Images.Workers))
            : DatasetSplit.Split(all, options.ValFraction, options.Seed);
        validation = validation.WithGeometry(ImagePresets.Validation);
        if (bad is not null)
        {
            (train, validation) = (train.Skipping(bad.For(Training)), validation.Skipping(bad.For(Validation)));
        }
        note?.Invoke(ImagePresets.Describe(geometry, size));
        return (all, train, validation);
    }

    private const string Training = "training", Validation = "validation";

    /// <summary>
    /// Warnings for images listed more than once in a set, and for validation images that are also training images (a
    /// validation accuracy measured on them overstates what the model does on new images).
    /// </summary>
    private static IEnumerable<string> Overlaps(string data, ImageEntries train, string? valData, ImageEntries? validation)
    {
        foreach (var (source, entries) in new[] { (data, train), (valData, validation) })
        {
            if (entries is null)
            {
                continue;
            }
            var repeated = entries.Images.GroupBy(i => Path.GetFullPath(i.Path), StringComparer.Ordinal).Where(g => g.Count() > 1).ToList();
            if (repeated.Count > 0)
            {
                yield return $"warning: '{source}' lists {repeated.Count} image{(repeated.Count == 1 ? "" : "s")} more than once (e.g. '{repeated[0].First().Path}', {repeated[0].Count()} times); each row counts as an image of its own";
            }
        }
        if (validation is not null)
        {
            var trained = train.Images.Select(i => Path.GetFullPath(i.Path)).ToHashSet(StringComparer.Ordinal);
            int shared = validation.Images.Select(i => Path.GetFullPath(i.Path)).Distinct(StringComparer.Ordinal).Count(trained.Contains);
            if (shared > 0)
            {
                yield return $"warning: {shared} of the {validation.Images.Count} validation images in '{valData}' are also training images in '{data}'; their accuracy overstates how the model does on images it has not seen";
            }
        }
    }

    /// <summary>Share of the available memory a folder's decoded images may take to be kept in memory under <see cref="ImageCache.Auto"/>.</summary>
    public const double MemoryShare = 0.5;

    /// <summary>
    /// Whether the folder or list (<paramref name="count"/> images, training and validation) is decoded into memory: as asked, or (auto) when its decoded images fit in
    /// <see cref="MemoryShare"/> of <paramref name="available"/> bytes and the training images are not random-resized crops; says which and why.
    /// </summary>
    internal static bool InMemory(TrainOptions options, long count, int size, long available, Action<string>? note)
    {
        if (options.Images.Cache != ImageCache.Auto || ImagePresets.RandomResizedCrops(options, size))
        {
            return options.Images.Cache == ImageCache.Memory;
        }
        long bytes = count * 3L * size * size;
        bool fits = bytes <= available * MemoryShare;
        note?.Invoke($"{count:N0} images at {size}x{size} take {Gib(bytes)} GiB decoded, {(fits ? "within" : "more than")} {MemoryShare * 100:0}% of the {Gib(available)} GiB available: "
            + (fits ? "decoded once and kept in memory" : "read from their files every epoch"));
        return fits;
    }

    private static string Gib(long bytes) => (bytes / (double)(1L << 30)).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
}
