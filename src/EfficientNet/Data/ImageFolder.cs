using EfficientNet.Imaging;
using EfficientNet.IO;

namespace EfficientNet.Data;

/// <summary>
/// An image-classification folder, <c>root/&lt;class&gt;/*.{jpg,jpeg,png,webp,bmp,gif}</c> with class names sorted
/// ordinally (as torchvision's ImageFolder), or a list file <c>*.csv</c> of <c>path,label</c> rows (see
/// <see cref="ImageList"/>). Images are decoded once, resized (shorter side) and
/// centre-cropped to a square of the model's resolution, and kept in memory. Hidden folders (names starting
/// with '.', such as .git or .ipynb_checkpoints) are not classes and are skipped (<see cref="HiddenFolders"/>).
/// </summary>
public static class ImageFolder
{
    /// <summary>Loads every image under <paramref name="root"/> at <paramref name="size"/> x <paramref name="size"/>.</summary>
    /// <param name="root">Folder of class folders, or a .csv list file of path,label rows.</param>
    /// <param name="size">Side of the square the images are resized and cropped to.</param>
    /// <param name="classes">Expected class names (e.g. the training set's for a validation set: a folder must have exactly them, a list only labels among them); null to read them.</param>
    /// <exception cref="EfficientNetException">Missing or empty folders, mismatched classes, or an unreadable image (named).</exception>
    public static ImageDataset Load(string root, int size, IReadOnlyList<string>? classes = null) =>
        Load(root, size, classes, ImageDataset.ChunkBytes);

    /// <summary><see cref="Load(string, int, IReadOnlyList{string}?)"/> with chunks of at most <paramref name="chunkBytes"/> (tests).</summary>
    internal static ImageDataset Load(string root, int size, IReadOnlyList<string>? classes, int chunkBytes) =>
        Decode(root, Entries(root, classes), size, chunkBytes);

    /// <summary>
    /// Decodes <paramref name="entries"/> (listed from <paramref name="source"/>) into memory as <see cref="Load(string, int, IReadOnlyList{string}?)"/>
    /// does; with <paramref name="skip"/>, an unreadable image is reported to it (path, reason) and left out instead of being an error.
    /// </summary>
    public static ImageDataset Decode(string source, ImageEntries entries, int size, Action<string, string>? skip = null) =>
        Decode(source, entries, size, ImageDataset.ChunkBytes, skip);

    /// <summary><see cref="Decode(string, ImageEntries, int, Action{string, string}?)"/> with chunks of at most <paramref name="chunkBytes"/> (tests).</summary>
    internal static ImageDataset Decode(string source, ImageEntries entries, int size, int chunkBytes, Action<string, string>? skip = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var files = entries.Images;
        int imageBytes = checked(3 * size * size);
        var (chunks, perChunk) = ImageDataset.AllocateChunks(files.Count, imageBytes, chunkBytes);
        // The centre squares a streamed set reads: one decoding path for both.
        var images = new ImageFiles([.. files.Select(f => f.Path)], size, SampleGeometry.CentreCrop, workers: 0);
        bool[] unreadable = new bool[files.Count];
        images.ForEach(files.Count, i =>
        {
            try
            {
                images.Read(i, seed: 0).CopyTo(ImageDataset.ImageIn(chunks, perChunk, imageBytes, i));
            }
            catch (EfficientNetException e) when (skip is not null)
            {
                skip(files[i].Path, e.Message);
                unreadable[i] = true;
            }
        });
        var decoded = new ImageDataset(chunks, perChunk, [.. files.Select(f => f.Label)], entries.Classes, size, size, source);
        return unreadable.Contains(true) ? decoded.Subset([.. Enumerable.Range(0, files.Count).Where(i => !unreadable[i])]) : decoded;
    }

    /// <summary>
    /// The same images as <see cref="Load(string, int, IReadOnlyList{string}?)"/>, read from their files per batch (see
    /// <see cref="ImageDataset.IsStreamed"/>) with <paramref name="geometry"/> by <paramref name="workers"/> threads (0: one per core).
    /// </summary>
    public static ImageDataset Stream(string root, int size, IReadOnlyList<string>? classes, SampleGeometry geometry, int workers) =>
        Stream(root, Entries(root, classes), size, geometry, workers);

    /// <summary>
    /// The images of a folder or list file streamed as a model's <paramref name="preprocessing"/> shapes them for prediction
    /// (shorter side to its resize size, centre crop, its interpolation), by one thread per core.
    /// </summary>
    public static ImageDataset Stream(string root, Preprocessing preprocessing, IReadOnlyList<string>? classes) =>
        Streamed(root, Entries(root, classes), paths => new ImageFiles(paths, preprocessing.CropSize, SampleGeometry.CentreCrop, workers: 0)
        {
            ResizeSize = preprocessing.ResizeSize,
            Interpolation = preprocessing.Interpolation,
        });

    /// <summary><paramref name="entries"/> (listed from <paramref name="source"/>, a name for messages) streamed as <see cref="Stream(string, int, IReadOnlyList{string}?, SampleGeometry, int)"/> does.</summary>
    public static ImageDataset Stream(string source, ImageEntries entries, int size, SampleGeometry geometry, int workers) =>
        Streamed(source, entries, paths => new ImageFiles(paths, size, geometry, workers));

    // The entries' images read by the ImageFiles `files` makes of their paths.
    private static ImageDataset Streamed(string source, ImageEntries entries, Func<string[], ImageFiles> files) =>
        new(files([.. entries.Images.Select(f => f.Path)]), [.. entries.Images.Select(f => f.Label)], entries.Classes, source);

    /// <summary>The classes and the images with their labels of a folder or list file (<paramref name="classes"/>: see <see cref="Load(string, int, IReadOnlyList{string}?)"/>).</summary>
    public static ImageEntries Entries(string root, IReadOnlyList<string>? classes)
    {
        ArgumentNullException.ThrowIfNull(root);
        var (found, images) = ImageList.IsList(root) ? ImageList.Read(root, classes) : Listing(root, classes);
        return new ImageEntries(found, images);
    }

    // The classes and images of a folder of class folders.
    private static (IReadOnlyList<string> Classes, List<(string Path, int Label)> Images) Listing(string root, IReadOnlyList<string>? classes)
    {
        if (!Directory.Exists(root))
        {
            throw new EfficientNetException($"image folder not found: '{root}'");
        }
        string[] found = [.. Directory.GetDirectories(root).Select(d => Path.GetFileName(d)!).Where(name => !IsHidden(name)).Order(StringComparer.Ordinal)];
        if (found.Length == 0)
        {
            throw new EfficientNetException($"'{root}' has no class folders{(HiddenFolders(root).Count > 0 ? " (hidden ones are skipped)" : "")}; expected {root}/<class>/*.jpg");
        }
        if (classes is not null && !classes.SequenceEqual(found))
        {
            throw new EfficientNetException(
                $"the classes in '{root}' ({string.Join(", ", found)}) differ from the model's classes ({string.Join(", ", classes)})");
        }
        var files = new List<(string Path, int Label)>();
        for (int label = 0; label < found.Length; label++)
        {
            string dir = Path.Combine(root, found[label]);
            var images = Directory.GetFiles(dir)
                .Where(f => ImageDecoder.Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()) && FileKind.Of(f) != FileType.Special)
                .Order(StringComparer.Ordinal)
                .ToArray();
            if (images.Length == 0)
            {
                throw new EfficientNetException($"class folder '{dir}' has no images ({string.Join(", ", ImageDecoder.Extensions)})");
            }
            files.AddRange(images.Select(f => (f, label)));
        }
        return (found, files);
    }

    /// <summary>The folders in <paramref name="root"/> that <see cref="Load(string, int, IReadOnlyList{string}?)"/> skips as hidden, sorted.</summary>
    public static IReadOnlyList<string> HiddenFolders(string root) =>
        Directory.GetDirectories(root).Select(d => Path.GetFileName(d)!).Where(IsHidden).Order(StringComparer.Ordinal).ToArray();

    private static bool IsHidden(string name) => name.StartsWith('.');
}

/// <summary>The classes of a folder or list file, and its images with their labels, before any is read.</summary>
public sealed record ImageEntries(IReadOnlyList<string> Classes, IReadOnlyList<(string Path, int Label)> Images);
