using System.Formats.Tar;
using System.IO.Compression;
using EfficientNet.Data;

namespace EfficientNet.Tests.Data;

public class Cifar10Tests
{
    private static readonly string SharedCifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    [Fact]
    public void Load_SharedTrainingSplit_Has50000LabelledImages()
    {
        var data = Cifar10.Load(SharedCifar, Cifar10Split.Train);
        Assert.Equal(50_000, data.Count);
        Assert.Equal((32, 32), (data.Height, data.Width));
        Assert.Equal(Cifar10.DefaultClasses, data.Classes);
        Assert.All(data.ClassCounts(), c => Assert.Equal(5_000, c));
    }

    [Fact]
    public void Load_FileNotWholeRecords_NamesFileAndRecordSize()
    {
        using var dir = FakeCifar(records: 3);
        File.WriteAllBytes(dir.File("data_batch_3.bin"), new byte[Cifar10.RecordBytes * 2 + 5]);
        var e = Assert.Throws<EfficientNetException>(() => Cifar10.Load(dir.Path, Cifar10Split.Train));
        Assert.Contains("data_batch_3.bin", e.Message, StringComparison.Ordinal);
        Assert.Contains("not a multiple of 3073", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingTestBatch_SaysWhichFile_AndWhatTheFolderHolds()
    {
        var e = Assert.Throws<EfficientNetException>(() => Cifar10.Load(SharedCifar, Cifar10Split.Test));
        Assert.Contains("missing test_batch.bin; it holds training batches only: evaluate on the train split", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<EfficientNetException>(() => Cifar10.Load(Path.Combine(TestPaths.SharedData, "flowers12", "test"), Cifar10Split.Test));
        Assert.Contains("it holds no CIFAR-10 batches at all (class folders of images are an image folder dataset)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_LabelOutOfRange_IsReported()
    {
        using var dir = FakeCifar(records: 2);
        byte[] bytes = File.ReadAllBytes(dir.File("data_batch_1.bin"));
        bytes[Cifar10.RecordBytes] = 12;
        File.WriteAllBytes(dir.File("data_batch_1.bin"), bytes);
        var e = Assert.Throws<EfficientNetException>(() => Cifar10.Load(dir.Path, Cifar10Split.Train));
        Assert.Contains("label 12", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnsureAvailable_Offline_FailsAtOnceSayingWhereToPutFiles()
    {
        using var cache = new TempDir();
        var e = Assert.Throws<EfficientNetException>(() =>
            Cifar10.EnsureAvailable(cache.Path, _ => throw new HttpRequestException("Name or service not known")));
        Assert.Contains("Offline?", e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(cache.Path, Cifar10.ArchiveName), e.Message, StringComparison.Ordinal);
        Assert.Contains("TrainOptions.Data", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(cache.Path));
    }

    [Fact]
    public void EnsureAvailable_ArchiveWithWrongChecksum_IsRejected()
    {
        using var cache = new TempDir();
        File.WriteAllBytes(cache.File(Cifar10.ArchiveName), MakeArchive(records: 2));
        var e = Assert.Throws<EfficientNetException>(() => Cifar10.EnsureAvailable(cache.Path, _ => throw new InvalidOperationException("must not download")));
        Assert.Contains("MD5", e.Message, StringComparison.Ordinal);
        Assert.Contains(Cifar10.ArchiveMd5, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unpack_ValidArchive_GivesALoadableFolder()
    {
        using var cache = new TempDir();
        string archive = cache.File("cifar.tar.gz");
        File.WriteAllBytes(archive, MakeArchive(records: 4));
        Cifar10.Unpack(archive, cache.Path, expectedMd5: null);
        var data = Cifar10.Load(Path.Combine(cache.Path, Cifar10.FolderName), Cifar10Split.Train);
        Assert.Equal(20, data.Count);
        Assert.Empty(Directory.GetDirectories(cache.Path, ".unpack-*"));
    }

    [Fact]
    public void Unpack_NotAnArchive_ReportsIt()
    {
        using var cache = new TempDir();
        string archive = cache.File("cifar.tar.gz");
        File.WriteAllText(archive, "not gzip");
        var e = Assert.Throws<EfficientNetException>(() => Cifar10.Unpack(archive, cache.Path, expectedMd5: null));
        Assert.Contains("not a valid .tar.gz", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A folder with five training batches of <paramref name="records"/> random records each.</summary>
    internal static TempDir FakeCifar(int records)
    {
        var dir = new TempDir();
        var random = new Random(1);
        foreach (string name in Cifar10.Files(Cifar10Split.Train))
        {
            byte[] bytes = new byte[records * Cifar10.RecordBytes];
            random.NextBytes(bytes);
            for (int r = 0; r < records; r++)
            {
                bytes[r * Cifar10.RecordBytes] = (byte)(r % 10);
            }
            File.WriteAllBytes(dir.File(name), bytes);
        }
        return dir;
    }

    private static byte[] MakeArchive(int records)
    {
        using var source = FakeCifar(records);
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip))
        {
            foreach (string file in Directory.GetFiles(source.Path))
            {
                tar.WriteEntry(file, $"{Cifar10.FolderName}/{Path.GetFileName(file)}");
            }
        }
        return memory.ToArray();
    }
}
