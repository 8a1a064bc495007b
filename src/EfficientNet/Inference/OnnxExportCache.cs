using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EfficientNet.IO;

namespace EfficientNet.Inference;

/// <summary>
/// A folder of ONNX exports of weights files, each named by the SHA-256 of the weights' bytes and of what else shapes
/// the export (the requested variant, the default normalisation, this library's version), so that opening the same
/// weights again on ONNX Runtime skips loading them into TorchSharp and exporting. A file that cannot be written or
/// read back is not an error: the export is made in memory as without a cache.
/// </summary>
internal static class OnnxExportCache
{
    // Part of every key: raise it when the exporter writes another graph for the same weights.
    private const int ExportFormat = 1;

    /// <summary>Where the export of <paramref name="weightsPath"/> opened with <paramref name="options"/> is kept in <paramref name="folder"/>.</summary>
    public static string PathFor(string folder, string weightsPath, ClassifierOptions options)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var weights = File.OpenRead(weightsPath))
        {
            byte[] buffer = new byte[1 << 20];
            for (int read; (read = weights.Read(buffer)) > 0;)
            {
                hash.AppendData(buffer, 0, read);
            }
        }
        var normalization = options.DefaultNormalization;
        string settings = string.Join('\n',
            ExportFormat.ToString(CultureInfo.InvariantCulture),
            typeof(OnnxExportCache).Assembly.GetName().Version?.ToString() ?? "",
            options.Variant is null ? "" : Architecture.Variants.Get(options.Variant).Name,
            normalization is null ? "" : string.Join(',', normalization.Mean.Concat(normalization.Std).Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        hash.AppendData(Encoding.UTF8.GetBytes(settings));
        return Path.Combine(folder, Convert.ToHexStringLower(hash.GetHashAndReset()) + ".onnx");
    }

    /// <summary>Keeps <paramref name="onnx"/> at <paramref name="path"/> (atomically), or nothing where the folder cannot be written.</summary>
    public static void Store(string path, byte[] onnx)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            AtomicFile.Write(path, stream => stream.Write(onnx));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only or full cache folder: the next open exports again.
        }
    }

    /// <summary>Removes a kept export that could not be opened, so that the next open writes a good one.</summary>
    public static void Discard(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next open to try again.
        }
    }
}
