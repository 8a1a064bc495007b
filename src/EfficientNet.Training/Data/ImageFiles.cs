using EfficientNet.Data.Augmentation;
using EfficientNet.Imaging;
using SkiaSharp;

namespace EfficientNet.Data;

/// <summary>How an image read from its file becomes a square of the training resolution.</summary>
internal enum SampleGeometry
{
    /// <summary>Shorter side resized to the resolution (bicubic), centre square: what prediction does, and what a folder held in memory holds.</summary>
    CentreCrop,

    /// <summary>A random-resized crop of the full photo (torchvision's semantics, bilinear), then a horizontal flip half the time.</summary>
    RandomResizedCrop,
}

/// <summary>
/// Images read, decoded and shaped from their files when a batch asks for them, by a pool of worker threads, so memory
/// holds batches, not the set. A random geometry draws from a generator seeded per sample by the caller.
/// </summary>
internal sealed class ImageFiles
{
    private readonly string[] paths;

    public ImageFiles(IReadOnlyList<string> paths, int size, SampleGeometry geometry, int workers)
    {
        ArgumentNullException.ThrowIfNull(paths);
        this.paths = [.. paths];
        Size = size;
        Geometry = geometry;
        Workers = workers > 0 ? workers : Environment.ProcessorCount;
    }

    /// <summary>Side of the square each image becomes.</summary>
    public int Size { get; }

    /// <summary>How it becomes that square.</summary>
    public SampleGeometry Geometry { get; }

    /// <summary>Threads decoding a batch.</summary>
    public int Workers { get; }

    /// <summary>Number of images.</summary>
    public int Count => paths.Length;

    /// <summary>The files at <paramref name="indices"/>, in that order.</summary>
    public ImageFiles Subset(IReadOnlyList<int> indices) => new([.. indices.Select(i => paths[i])], Size, Geometry, Workers);

    /// <summary>These files at another size or with another geometry.</summary>
    public ImageFiles With(int? size = null, SampleGeometry? geometry = null) => new(paths, size ?? Size, geometry ?? Geometry, Workers);

    /// <summary>Writes the images at <paramref name="indices"/> as 8-bit RGB planes into <paramref name="destination"/>, one after another.</summary>
    /// <param name="indices">Which images.</param>
    /// <param name="seeds">Each image's generator seed (used by <see cref="SampleGeometry.RandomResizedCrop"/>).</param>
    /// <param name="destination">3 x Size x Size bytes per image.</param>
    /// <exception cref="EfficientNetException">An image cannot be read; the message names the first such file.</exception>
    public void Fill(int[] indices, int[] seeds, byte[] destination)
    {
        int imageBytes = 3 * Size * Size;
        ForEach(indices.Length, i => Read(indices[i], seeds[i]).CopyTo(destination.AsSpan(i * imageBytes, imageBytes)));
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
            return ImageDecoder.ResizeAndCrop(bitmap, Size, Size);
        }
        var random = new Random(seed);
        var (left, top, width, height) = RandomResizedCrop.Box(bitmap.Width, bitmap.Height, random);
        return ImageDecoder.CropAndResize(bitmap, SKRectI.Create(left, top, width, height), Size, flip: random.NextDouble() < 0.5);
    }
}
