using static TorchSharp.torch;

namespace EfficientNet.Data;

/// <summary>
/// Labelled images held in memory as 8-bit RGB planes, (N, 3, H, W) in one array: CIFAR-10 is 150 MB
/// this way, and batches are cut from it without decoding anything during training.
/// </summary>
public sealed class ImageDataset
{
    private readonly byte[] pixels;
    private readonly int[] labels;

    /// <summary>Wraps pixel planes and labels; validates sizes and label range.</summary>
    public ImageDataset(byte[] pixels, int[] labels, IReadOnlyList<string> classes, int height, int width, string source)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classes);
        if (pixels.LongLength != (long)labels.Length * 3 * height * width)
        {
            throw new ArgumentException($"{pixels.Length} bytes do not hold {labels.Length} images of 3x{height}x{width}");
        }
        int bad = Array.FindIndex(labels, l => l < 0 || l >= classes.Count);
        if (bad >= 0)
        {
            throw new EfficientNetException($"{source}: image {bad} has label {labels[bad]}, outside 0..{classes.Count - 1}");
        }
        this.pixels = pixels;
        this.labels = labels;
        Classes = classes;
        Height = height;
        Width = width;
        Source = source;
    }

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

    /// <summary>The labels, in dataset order.</summary>
    public IReadOnlyList<int> Labels => labels;

    private int ImageBytes => 3 * Height * Width;

    /// <summary>The images at <paramref name="indices"/>, in that order.</summary>
    public ImageDataset Subset(IReadOnlyList<int> indices, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(indices);
        byte[] data = new byte[(long)indices.Count * ImageBytes];
        int[] subsetLabels = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            Buffer.BlockCopy(pixels, indices[i] * ImageBytes, data, i * ImageBytes, ImageBytes);
            subsetLabels[i] = labels[indices[i]];
        }
        return new ImageDataset(data, subsetLabels, Classes, Height, Width, source ?? Source);
    }

    /// <summary>A batch: images as float (B, 3, H, W) in [0, 1] and labels as int64 (B).</summary>
    public (Tensor Images, Tensor Labels) Batch(ReadOnlySpan<int> indices)
    {
        byte[] data = new byte[indices.Length * ImageBytes];
        long[] batchLabels = new long[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            Buffer.BlockCopy(pixels, indices[i] * ImageBytes, data, i * ImageBytes, ImageBytes);
            batchLabels[i] = labels[indices[i]];
        }
        using var bytes = tensor(data, [indices.Length, 3, Height, Width]);
        return (bytes.to(float32).div_(255), tensor(batchLabels));
    }

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
