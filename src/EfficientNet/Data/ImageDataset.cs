using EfficientNet.Imaging;
using static TorchSharp.torch;

namespace EfficientNet.Data;

/// <summary>
/// Labelled images of one square size, held in memory or streamed from their files. In memory they are 8-bit RGB
/// planes, (N, 3, H, W): CIFAR-10 is 150 MB this way, and batches are cut from it without decoding anything during
/// training. The planes live in chunks of at most <see cref="ChunkBytes"/> (whole images each), so a dataset may be
/// larger than .NET's 2 GiB array limit (e.g. 720 images at 1024x1024 are 2.3 GB). A streamed set
/// (<see cref="IsStreamed"/>) reads, decodes and shapes each batch's files when it is asked for, so it may be larger
/// than memory.
/// </summary>
public sealed class ImageDataset
{
    /// <summary>Largest chunk of pixel planes: 1 GiB.</summary>
    internal const int ChunkBytes = 1 << 30;

    private readonly byte[][] chunks;
    private readonly int imagesPerChunk;
    private readonly ImageFiles? files;
    private readonly int[] labels;

    /// <summary>Wraps pixel planes (one array) and labels; validates sizes and label range.</summary>
    public ImageDataset(byte[] pixels, int[] labels, IReadOnlyList<string> classes, int height, int width, string source)
        : this([pixels ?? throw new ArgumentNullException(nameof(pixels))], Math.Max(1, labels?.Length ?? 0), labels!, classes, height, width, source)
    {
    }

    /// <summary>Wraps pixel planes in chunks of <paramref name="imagesPerChunk"/> images (the last may hold fewer).</summary>
    internal ImageDataset(byte[][] chunks, int imagesPerChunk, int[] labels, IReadOnlyList<string> classes, int height, int width, string source)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classes);
        long imageBytes = 3L * height * width;
        if (chunks.Sum(c => c.LongLength) != labels.Length * imageBytes || chunks.SkipLast(1).Any(c => c.LongLength != imagesPerChunk * imageBytes))
        {
            throw new ArgumentException($"{chunks.Sum(c => c.LongLength)} bytes in {chunks.Length} chunks do not hold {labels.Length} images of 3x{height}x{width}");
        }
        CheckLabels(labels, classes, source);
        this.chunks = chunks;
        this.imagesPerChunk = imagesPerChunk;
        this.labels = labels;
        Classes = classes;
        Height = height;
        Width = width;
        Source = source;
    }

    /// <summary>Images read from their files when a batch asks for them (<see cref="IsStreamed"/>): memory does not grow with the set.</summary>
    internal ImageDataset(ImageFiles files, int[] labels, IReadOnlyList<string> classes, string source)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classes);
        if (files.Count != labels.Length)
        {
            throw new ArgumentException($"{files.Count} files for {labels.Length} labels");
        }
        CheckLabels(labels, classes, source);
        (chunks, imagesPerChunk, this.files, this.labels) = ([], 1, files, labels);
        (Classes, Height, Width, Source) = (classes, files.Size, files.Size, source);
    }

    private static void CheckLabels(int[] labels, IReadOnlyList<string> classes, string source)
    {
        int bad = Array.FindIndex(labels, l => l < 0 || l >= classes.Count);
        if (bad >= 0)
        {
            throw new EfficientNetException($"{source}: image {bad} has label {labels[bad]}, outside 0..{classes.Count - 1}");
        }
    }

    /// <summary>Zeroed chunks for <paramref name="count"/> images of <paramref name="imageBytes"/>, at most <paramref name="chunkBytes"/> each.</summary>
    internal static (byte[][] Chunks, int ImagesPerChunk) AllocateChunks(int count, int imageBytes, int chunkBytes = ChunkBytes)
    {
        int perChunk = Math.Max(1, chunkBytes / imageBytes);
        var result = new byte[(count + perChunk - 1) / perChunk][];
        for (int c = 0; c < result.Length; c++)
        {
            result[c] = new byte[(long)Math.Min(perChunk, count - c * perChunk) * imageBytes];
        }
        return (result, perChunk);
    }

    /// <summary>Where image <paramref name="index"/> of a chunked store lies.</summary>
    internal static Span<byte> ImageIn(byte[][] chunks, int imagesPerChunk, int imageBytes, int index) =>
        chunks[index / imagesPerChunk].AsSpan(index % imagesPerChunk * imageBytes, imageBytes);

    /// <summary>Number of images.</summary>
    public int Count => labels.Length;

    /// <summary>Class names; label i names <c>Classes[i]</c>.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Image height in pixels.</summary>
    public int Height { get; }

    /// <summary>Image width in pixels.</summary>
    public int Width { get; }

    /// <summary>Where the images came from, for messages.</summary>
    public string Source { get; }

    /// <summary>Whether the images are read from their files per batch rather than held in memory.</summary>
    public bool IsStreamed => files is not null;

    /// <summary>How streamed images are shaped (null when they are held in memory).</summary>
    public SampleGeometry? Geometry => files?.Geometry;

    /// <summary>This streamed set with another geometry (a validation part of a training set takes centre crops); this set when held in memory.</summary>
    public ImageDataset WithGeometry(SampleGeometry geometry) =>
        files is null || files.Geometry == geometry ? this : new ImageDataset(files.With(geometry: geometry), labels, Classes, Source);

    /// <summary>This streamed set decoded by <paramref name="workers"/> threads; this set when held in memory.</summary>
    public ImageDataset WithWorkers(int workers) =>
        files is null || files.Workers == workers ? this : new ImageDataset(files.With(workers: workers), labels, Classes, Source);

    /// <summary>This streamed set replacing an unreadable image by the next readable one and telling <paramref name="skip"/> (path, reason); this set when held in memory.</summary>
    public ImageDataset Skipping(Action<string, string> skip) =>
        files is null ? this : new ImageDataset(files.With(skip: skip), labels, Classes, Source);

    /// <summary>The labels, in dataset order.</summary>
    public IReadOnlyList<int> Labels => labels;

    private int ImageBytes => checked(3 * Height * Width);

    /// <summary>The images at <paramref name="indices"/>, in that order.</summary>
    public ImageDataset Subset(IReadOnlyList<int> indices, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(indices);
        if (files is not null)
        {
            return new ImageDataset(files.Subset(indices), [.. indices.Select(i => labels[i])], Classes, source ?? Source);
        }
        var (data, perChunk) = AllocateChunks(indices.Count, ImageBytes);
        int[] subsetLabels = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            Image(indices[i]).CopyTo(ImageIn(data, perChunk, ImageBytes, i));
            subsetLabels[i] = labels[indices[i]];
        }
        return new ImageDataset(data, perChunk, subsetLabels, Classes, Height, Width, source ?? Source);
    }

    /// <summary>
    /// Every image resized to <paramref name="size"/> x <paramref name="size"/> as prediction resizes a file of it
    /// (<see cref="ImageDecoder.ResizePlanes"/>: shorter side, centre crop, bicubic); this dataset when it already has that size.
    /// </summary>
    public ImageDataset Resized(int size)
    {
        if (size < 1)
        {
            throw new EfficientNetException($"image size must be positive, got {size}");
        }
        if (Height == size && Width == size)
        {
            return this;
        }
        if (files is not null)
        {
            return new ImageDataset(files.With(size: size), labels, Classes, Source);
        }
        int resizedBytes = checked(3 * size * size);
        var (data, perChunk) = AllocateChunks(Count, resizedBytes);
        Parallel.For(0, Count, i => ImageDecoder.ResizePlanes(Image(i), Width, Height, size).CopyTo(ImageIn(data, perChunk, resizedBytes, i)));
        return new ImageDataset(data, perChunk, labels, Classes, size, size, Source);
    }

    /// <summary>A batch: images as float (B, 3, H, W) in [0, 1] and labels as int64 (B).</summary>
    public (Tensor Images, Tensor Labels) Batch(ReadOnlySpan<int> indices) => Batch(indices, default);

    /// <summary>
    /// A batch whose streamed images with a random geometry draw from generators seeded by <paramref name="seeds"/>, one
    /// per image (default: all zero), so a batch is the same whichever threads decode it.
    /// </summary>
    internal (Tensor Images, Tensor Labels) Batch(ReadOnlySpan<int> indices, ReadOnlySpan<int> seeds)
    {
        byte[] data = new byte[checked(indices.Length * ImageBytes)];
        // A streamed set may replace an unreadable image (with a skip handler): the labels are those of the images read.
        int[] read = files?.Fill(indices.ToArray(), seeds.IsEmpty ? new int[indices.Length] : seeds.ToArray(), data) ?? indices.ToArray();
        long[] batchLabels = new long[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            if (files is null)
            {
                Image(indices[i]).CopyTo(data.AsSpan(i * ImageBytes, ImageBytes));
            }
            batchLabels[i] = labels[read[i]];
        }
        using var bytes = tensor(data, [indices.Length, 3, Height, Width]);
        return (bytes.to(float32).div_(255), tensor(batchLabels));
    }

    private Span<byte> Image(int index) => ImageIn(chunks, imagesPerChunk, ImageBytes, index);

    /// <summary>Images per class, in class order.</summary>
    public int[] ClassCounts()
    {
        int[] counts = new int[Classes.Count];
        foreach (int label in labels)
        {
            counts[label]++;
        }
        return counts;
    }
}
