using EfficientNet.IO;

namespace EfficientNet.Data;

/// <summary>
/// A list file of labelled images, the format many downloaded datasets ship: CSV rows <c>path,label</c> (RFC 4180
/// quoting; a first row <c>path,label</c> is a header), paths relative to the file's folder unless absolute, labels
/// class names. Classes are the sorted distinct labels (ordinal, as for folders).
/// </summary>
internal static class ImageList
{
    /// <summary>Whether <paramref name="path"/> names a list file rather than a folder.</summary>
    public static bool IsList(string path) => string.Equals(Path.GetExtension(path), ".csv", StringComparison.OrdinalIgnoreCase) && !Directory.Exists(path);

    /// <summary>
    /// The images and labels of <paramref name="path"/>; with <paramref name="classes"/> (a validation list) every
    /// label must be one of them and indexes them, else the classes are the list's own.
    /// </summary>
    /// <exception cref="EfficientNetException">A missing file, a row without exactly two fields or with an empty label, an
    /// image that is not there, or an unknown class; the message names the file and line.</exception>
    public static (IReadOnlyList<string> Classes, List<(string Path, int Label)> Images) Read(string path, IReadOnlyList<string>? classes)
    {
        switch (FileKind.Of(path))
        {
            case FileType.Missing:
                throw new EfficientNetException($"image list not found: '{path}'");
            case FileType.Special:
                throw new EfficientNetException($"image list '{path}' is not a regular file");
        }
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var rows = new List<(string Path, string Label)>();
        using (var stream = File.OpenRead(path))
        {
            SkipByteOrderMark(stream);
            foreach (var (fields, _, line) in Csv.Records(stream, unterminated: true))
            {
                if (fields is [""] || (rows.Count == 0 && line == 1 && IsHeader(fields)))
                {
                    continue;
                }
                string where = $"'{path}' line {line}";
                if (fields.Count != 2)
                {
                    throw new EfficientNetException($"{where}: expected 2 fields (path,label), found {fields.Count}");
                }
                if (fields[1].Trim().Length == 0)
                {
                    throw new EfficientNetException($"{where}: the label is empty");
                }
                string image = Path.Combine(folder, fields[0]);
                if (Directory.Exists(image))
                {
                    throw new EfficientNetException($"{where}: '{image}' is a folder, not an image");
                }
                if (!File.Exists(image))
                {
                    throw new EfficientNetException($"{where}: image not found: '{image}'");
                }
                rows.Add((image, fields[1].Trim()));
            }
        }
        if (rows.Count == 0)
        {
            throw new EfficientNetException($"image list '{path}' has no rows; expected path,label rows");
        }
        var names = classes ?? rows.Select(r => r.Label).Distinct().Order(StringComparer.Ordinal).ToArray();
        var index = names.Select((name, i) => (name, i)).ToDictionary(c => c.name, c => c.i, StringComparer.Ordinal);
        var images = new List<(string Path, int Label)>(rows.Count);
        foreach (var (image, label) in rows)
        {
            if (!index.TryGetValue(label, out int i))
            {
                throw new EfficientNetException($"'{path}': class '{label}' is not one of the model's classes ({string.Join(", ", names)})");
            }
            images.Add((image, i));
        }
        return (names, images);
    }

    /// <summary>Moves past a UTF-8 byte-order mark at the start of <paramref name="stream"/> (Excel's "CSV UTF-8" writes one).</summary>
    private static void SkipByteOrderMark(Stream stream)
    {
        Span<byte> start = stackalloc byte[3];
        int read = stream.ReadAtLeast(start, 3, throwOnEndOfStream: false);
        stream.Position = read == 3 && start.SequenceEqual((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
    }

    private static bool IsHeader(IReadOnlyList<string> fields) =>
        fields is [var first, var second] && first.Trim().Equals("path", StringComparison.OrdinalIgnoreCase) && second.Trim().Equals("label", StringComparison.OrdinalIgnoreCase);
}
