using EfficientNet.Data.Augmentation;
using EfficientNet.Imaging;
using SkiaSharp;

namespace EfficientNet.Data;

/// <summary>How an image read from its file becomes a square of the training resolution.</summary>
public enum SampleGeometry
{
    /// <summary>Shorter side resized to the resolution (bicubic), centre square: what prediction does, and what a folder held in memory holds.</summary>
    CentreCrop,

    /// <summary>A random-resized crop of the full photo (torchvision's semantics, bilinear), then a horizontal flip half the time.</summary>
    RandomResizedCrop,
}

/// <summary>
/// Images read, decoded and shaped from their files when a batch asks for them, by a pool of worker threads, so memory
/// holds batches, not the set. A random geometry draws from a generator seeded per sample by the caller. An
/// unreadable image is an error naming it, or, when a skip handler is given, is reported to it and replaced by the
/// next readable image in the list (as timm's datasets do), so batches keep their size.
/// </summary>
internal sealed class ImageFiles
{
    /// <summary>Unreadable images in a row after which skipping gives up: the data is broken, not a few files.</summary>
    public const int MaxSkippedInARow = 20;

    private readonly string[] paths;
    private readonly Action<string, string>? skip;

    /// <param name="paths">The image files.</param>
    /// <param name="size">Side of the square each image becomes.</param>
    /// <param name="geometry">How it becomes that square.</param>
    /// <param name="workers">Decoding threads (0: one per core).</param>
    /// <param name="skip">Told (path, reason) of each unreadable image, which is then replaced; null: an unreadable image is an error.</param>
    public ImageFiles(IReadOnlyList<string> paths, int size, SampleGeometry geometry, int workers, Action<string, string>? skip = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        this.paths = [.. paths];
        Size = size;
        Geometry = geometry;
        Workers = workers > 0 ? workers : Environment.ProcessorCount;
        this.skip = skip;
    }

    /// <summary>Side of the square each image becomes.</summary>
    public int Size { get; }

    /// <summary>
    /// With <see cref="SampleGeometry.CentreCrop"/>: the shorter side an image is resized to before its centre square is
    /// cut (0: <see cref="Size"/>), as a model's preprocessing says (e.g. torchvision's B0: 256, then 224).
    /// </summary>
    public int ResizeSize { get; init; }

    /// <summary>With <see cref="SampleGeometry.CentreCrop"/>: how an image is resized.</summary>
    public Interpolation Interpolation { get; init; } = Interpolation.Bicubic;

    /// <summary>How it becomes that square.</summary>
    public SampleGeometry Geometry { get; }

    /// <summary>Threads decoding a batch.</summary>
    public int Workers { get; }

    /// <summary>Number of images.</summary>
    public int Count => paths.Length;

    /// <summary>The files at <paramref name="indices"/>, in that order.</summary>
    public ImageFiles Subset(IReadOnlyList<int> indices) =>
        new([.. indices.Select(i => paths[i])], Size, Geometry, Workers, skip) { ResizeSize = ResizeSize, Interpolation = Interpolation };

    /// <summary>These files at another size, with another geometry, decoded by another number of threads, or reporting unreadable images to another handler.</summary>
    public ImageFiles With(int? size = null, SampleGeometry? geometry = null, int? workers = null, Action<string, string>? skip = null) =>
        new(paths, size ?? Size, geometry ?? Geometry, workers ?? Workers, skip ?? this.skip) { ResizeSize = size is null ? ResizeSize : 0, Interpolation = Interpolation };

    /// <summary>Writes the images at <paramref name="indices"/> as 8-bit RGB planes into <paramref name="destination"/>, one after another.</summary>
    /// <param name="indices">Which images.</param>
    /// <param name="seeds">Each image's generator seed (used by <see cref="SampleGeometry.RandomResizedCrop"/>).</param>
    /// <param name="destination">3 x Size x Size bytes per image.</param>
    /// <returns>The images written: <paramref name="indices"/>, except where an unreadable image was replaced.</returns>
    /// <exception cref="EfficientNetException">An image cannot be read (and none is skipped); the message names the first such file.</exception>
    public int[] Fill(int[] indices, int[] seeds, byte[] destination)
    {
        int imageBytes = 3 * Size * Size;
        int[] written = new int[indices.Length];
        ForEach(indices.Length, i => written[i] = ReadReplacing(indices[i], seeds[i], destination.AsSpan(i * imageBytes, imageBytes)));
        return written;
    }

    // Image index, or with a skip handler the first readable one from it on (wrapping); which one it wrote.
    private int ReadReplacing(int index, int seed, Span<byte> destination)
    {
        for (int attempt = 0; ; attempt++)
        {
            int at = (index + attempt) % paths.Length;
            try
            {
                Read(at, seed).CopyTo(destination);
                return at;
            }
            catch (EfficientNetException e) when (skip is not null)
            {
                skip(paths[at], e.Message);
                if (attempt + 1 == Math.Min(MaxSkippedInARow, paths.Length))
                {
                    throw new EfficientNetException($"{attempt + 1} images in a row from '{paths[index]}' on could not be read (the last: {e.Message}); the data looks broken, not a few bad files", e);
                }
            }
        }
    }

    /// <summary>Runs <paramref name="body"/> for 0 .. <paramref name="count"/> - 1 on <see cref="Workers"/> threads; an unreadable image is reported as it is, not wrapped.</summary>
    public void ForEach(int count, Action<int> body)
    {
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Workers }, body);
        }
        catch (AggregateException e) when (e.InnerExceptions.OfType<EfficientNetException>().Any())
        {
            throw e.InnerExceptions.OfType<EfficientNetException>().First();
        }
    }

    /// <summary>Image <paramref name="index"/> as 8-bit RGB planes, shaped with a generator seeded by <paramref name="seed"/>.</summary>
    public byte[] Read(int index, int seed)
    {
        using var bitmap = ImageDecoder.Decode(paths[index]);
        if (Geometry == SampleGeometry.CentreCrop)
        {
            return ImageDecoder.ResizeAndCrop(bitmap, ResizeSize > 0 ? ResizeSize : Size, Size, Interpolation);
        }
        var random = new Random(seed);
        var (left, top, width, height) = RandomResizedCrop.Box(bitmap.Width, bitmap.Height, random);
        return ImageDecoder.CropAndResize(bitmap, SKRectI.Create(left, top, width, height), Size, flip: random.NextDouble() < 0.5);
    }
}
