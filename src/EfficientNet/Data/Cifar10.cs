using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using EfficientNet.IO;

namespace EfficientNet.Data;

/// <summary>Which part of CIFAR-10 to read.</summary>
public enum Cifar10Split
{
    /// <summary>data_batch_1.bin … data_batch_5.bin (50,000 images).</summary>
    Train,

    /// <summary>test_batch.bin (10,000 images).</summary>
    Test,

    /// <summary>
    /// The 5,000 training images a run holds out for validation by default (10% of each class, seed 42:
    /// <see cref="DatasetSplit.DefaultValidationFraction"/>, <see cref="DatasetSplit.DefaultSeed"/>), the set its
    /// reported validation accuracies are measured on.
    /// </summary>
    Validation,
}

/// <summary>
/// CIFAR-10 in its official binary format (https://www.cs.toronto.edu/~kriz/cifar.html): each file is a
/// run of 3,073-byte records, one label byte then 1,024 red, 1,024 green and 1,024 blue bytes of a
/// 32x32 image. Reads a local folder, or downloads and verifies the official archive into a cache.
/// </summary>
public static class Cifar10
{
    /// <summary>Side of a CIFAR-10 image in pixels.</summary>
    public const int ImageSize = 32;

    /// <summary>Bytes per record: 1 label + 3 x 32 x 32 pixels.</summary>
    public const int RecordBytes = 1 + 3 * ImageSize * ImageSize;

    /// <summary>The official archive.</summary>
    public const string ArchiveUrl = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

    /// <summary>MD5 of the official archive, as published on the dataset's page.</summary>
    public const string ArchiveMd5 = "c32a1d4ab5d03f1284b67883e8d87530";

    /// <summary>The archive's file name, also where a manually downloaded copy goes in the cache.</summary>
    public const string ArchiveName = "cifar-10-binary.tar.gz";

    /// <summary>The folder the archive unpacks to.</summary>
    public const string FolderName = "cifar-10-batches-bin";

    /// <summary>Where the CIFAR-10 archive is downloaded to and unpacked unless a folder is given: ~/.cache/efficientnet-net.</summary>
    public static string DefaultCacheDirectory => IO.Downloads.DefaultCacheDirectory;

    /// <summary>Class names in label order (batches.meta.txt of the official release).</summary>
    public static readonly IReadOnlyList<string> DefaultClasses = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>The files of a split.</summary>
    public static IReadOnlyList<string> Files(Cifar10Split split) =>
        split == Cifar10Split.Test ? ["test_batch.bin"] : Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin").ToArray();

    /// <summary>Whether <paramref name="directory"/> holds any of CIFAR-10's batch files (data_batch_N.bin, test_batch.bin).</summary>
    public static bool HoldsBatches(string directory) =>
        Directory.Exists(directory) && Files(Cifar10Split.Train).Concat(Files(Cifar10Split.Test)).Any(f => File.Exists(Path.Combine(directory, f)));

    /// <summary>Reads a split from a folder holding the .bin files (and optionally batches.meta.txt).</summary>
    /// <exception cref="EfficientNetException">A file is missing or its size is not a whole number of records.</exception>
    public static ImageDataset Load(string directory, Cifar10Split split)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
        {
            throw new EfficientNetException($"CIFAR-10 folder not found: '{directory}'");
        }
        var paths = Files(split).Select(f => Path.Combine(directory, f)).ToArray();
        var missing = paths.Where(p => !File.Exists(p)).ToArray();
        if (missing.Length > 0)
        {
            string hint = !HoldsBatches(directory)
                ? $"; it holds no CIFAR-10 batches at all{(Directory.GetDirectories(directory).Length > 0 ? " (class folders of images are an image folder dataset)" : "")}"
                : split == Cifar10Split.Test ? "; it holds training batches only: evaluate on the train split, or on the validation images training held out" : "";
            throw new EfficientNetException(
                $"CIFAR-10 {split.ToString().ToLowerInvariant()} split incomplete in '{directory}': missing {string.Join(", ", missing.Select(Path.GetFileName))}{hint}");
        }
        var records = new List<byte[]>();
        long total = 0;
        foreach (string path in paths)
        {
            byte[] bytes = File.ReadAllBytes(path);
            if (bytes.Length == 0 || bytes.Length % RecordBytes != 0)
            {
                throw new EfficientNetException(
                    $"'{path}' has {bytes.Length} bytes, not a multiple of {RecordBytes} (1 label byte + 3,072 pixel bytes per image); the file is truncated or not CIFAR-10 binary");
            }
            records.Add(bytes);
            total += bytes.Length / RecordBytes;
        }
        byte[] pixels = new byte[total * (RecordBytes - 1)];
        int[] labels = new int[total];
        int n = 0;
        foreach (byte[] file in records)
        {
            for (int offset = 0; offset < file.Length; offset += RecordBytes, n++)
            {
                labels[n] = file[offset];
                Buffer.BlockCopy(file, offset + 1, pixels, n * (RecordBytes - 1), RecordBytes - 1);
            }
        }
        var dataset = new ImageDataset(pixels, labels, ReadClasses(directory), ImageSize, ImageSize, $"CIFAR-10 {split.ToString().ToLowerInvariant()} ({directory})");
        return split == Cifar10Split.Validation
            ? DatasetSplit.Split(dataset, DatasetSplit.DefaultValidationFraction, DatasetSplit.DefaultSeed).Validation
            : dataset;
    }

    /// <summary>
    /// The folder with the .bin files under <paramref name="cacheDirectory"/>, unpacking the archive
    /// first if needed and downloading it if it is not there. Offline, fails at once and says where
    /// to put the archive or the unpacked folder.
    /// </summary>
    public static string EnsureAvailable(string cacheDirectory, Func<string, Stream>? download = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(cacheDirectory);
        string folder = Path.Combine(cacheDirectory, FolderName);
        if (Files(Cifar10Split.Train).All(f => File.Exists(Path.Combine(folder, f))))
        {
            return folder;
        }
        Directory.CreateDirectory(cacheDirectory);
        string archive = Path.Combine(cacheDirectory, ArchiveName);
        if (!File.Exists(archive))
        {
            Downloads.ToFile(ArchiveUrl, archive,
                $"Get {ArchiveName} elsewhere and put it at '{archive}', or give TrainOptions.Data a folder holding the unpacked {FolderName} files (data_batch_1.bin …)",
                download, cancellation: cancellation);
        }
        Unpack(archive, cacheDirectory, ArchiveMd5);
        return folder;
    }

    /// <summary>Verifies <paramref name="archive"/>'s MD5 (when given) and unpacks it into <paramref name="destination"/>.</summary>
    public static void Unpack(string archive, string destination, string? expectedMd5)
    {
        if (expectedMd5 is not null)
        {
            string actual;
            using (var stream = File.OpenRead(archive))
            {
                // MD5 is what the dataset's page publishes; it checks integrity, not authenticity.
#pragma warning disable CA5351
                actual = Convert.ToHexStringLower(MD5.HashData(stream));
#pragma warning restore CA5351
            }
            if (actual != expectedMd5)
            {
                throw new EfficientNetException(
                    $"'{archive}' has MD5 {actual}, expected {expectedMd5}: the download is incomplete or not the official archive; delete it and try again");
            }
        }
        string staging = Path.Combine(destination, $".unpack-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            using (var file = File.OpenRead(archive))
            using (var gzip = new GZipStream(file, CompressionMode.Decompress))
            {
                TarFile.ExtractToDirectory(gzip, staging, overwriteFiles: true);
            }
            string unpacked = Path.Combine(staging, FolderName);
            if (!Directory.Exists(unpacked))
            {
                throw new EfficientNetException($"'{archive}' does not contain a {FolderName} folder");
            }
            string target = Path.Combine(destination, FolderName);
            if (Directory.Exists(target))
            {
                Directory.Delete(target, recursive: true);
            }
            Directory.Move(unpacked, target);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            throw new EfficientNetException($"'{archive}' is not a valid .tar.gz archive: {e.Message}", e);
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
    }

    private static IReadOnlyList<string> ReadClasses(string directory)
    {
        string meta = Path.Combine(directory, "batches.meta.txt");
        if (!File.Exists(meta))
        {
            return DefaultClasses;
        }
        var names = File.ReadAllLines(meta).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        return names.Length == 10 ? names : DefaultClasses;
    }
}
