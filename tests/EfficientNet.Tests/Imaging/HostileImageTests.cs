using EfficientNet.Data;
using EfficientNet.Imaging;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using SkiaSharp;

namespace EfficientNet.Tests.Imaging;

/// <summary>Images that used to be decoded wrongly or crash: truncated files, decompression bombs, EXIF orientation, hidden folders.</summary>
public class HostileImageTests
{
    private static string FlowerJpeg => Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "test", "daisy"), "*.jpg").Order().First();

    [Theory]
    [InlineData(500)]
    [InlineData(-2)]
    public void Decode_TruncatedJpeg_IsAnErrorNamingTheFile(int keep)
    {
        // 500: the first 500 bytes (the header parses, the data is missing); -2: half the file.
        using var dir = new TempDir();
        byte[] whole = File.ReadAllBytes(FlowerJpeg);
        string path = dir.File("cut.jpg");
        File.WriteAllBytes(path, whole[..(keep > 0 ? keep : whole.Length / -keep)]);

        var e = Assert.Throws<EfficientNetException>(() => ImageDecoder.Decode(path).Dispose());

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_AJpegOrPngCutAnywhere_IsReportedAsTruncated()
    {
        // Wherever a copy stops, after the signature, the reason is the cut: not "cannot decode" or "not an image".
        using var dir = new TempDir();
        string png = dir.File("whole.png");
        using (var bitmap = ImageDecoder.Decode(FlowerJpeg))
        using (var encoded = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100))
        {
            File.WriteAllBytes(png, encoded.ToArray());
        }
        foreach (string source in new[] { FlowerJpeg, png })
        {
            byte[] whole = File.ReadAllBytes(source);
            foreach (int percent in new[] { 0, 1, 5, 10, 25, 50, 75, 90, 99 })
            {
                string path = dir.File($"cut{percent}{Path.GetExtension(source)}");
                File.WriteAllBytes(path, whole[..Math.Max(10, whole.Length * percent / 100)]);
                var e = Assert.Throws<EfficientNetException>(() => ImageDecoder.Decode(path).Dispose());
                Assert.True(e.Message.Contains("is truncated", StringComparison.Ordinal), $"{percent}% of {Path.GetFileName(source)}: {e.Message}");
            }
        }
    }

    [Fact]
    public void Decode_PngClaimingFortyThousandSquared_IsRefusedBeforeDecoding()
    {
        // A 100-byte PNG whose header claims 40000 x 40000 pixels (6.4 GB of RGBA).
        using var dir = new TempDir();
        string path = dir.File("bomb.png");
        PythonScript.Run(
            """
            import struct, sys, zlib
            def chunk(kind, data):
                return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
            ihdr = struct.pack(">IIBBBBB", 40000, 40000, 8, 0, 0, 0, 0)
            png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 40001)) + chunk(b"IEND", b"")
            open(sys.argv[1], "wb").write(png)
            """, path);

        var e = Assert.Throws<EfficientNetException>(() => ImageDecoder.Decode(path).Dispose());

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("40000x40000", e.Message, StringComparison.Ordinal);
        Assert.True(new FileInfo(path).Length < 1000);
    }

    [Fact]
    public void Decode_ExifOrientations_ComeOutUprightLikePillowsExifTranspose()
    {
        // For each EXIF orientation 2-8: the same stored pixels with that tag, and Pillow's upright version of it
        // saved without a tag. Blocks of 16 pixels in distinct colours, so that JPEG at quality 100 keeps them.
        using var dir = new TempDir();
        PythonScript.Run(
            """
            import sys
            from PIL import Image, ImageOps
            colours = [(230, 30, 30), (30, 200, 30), (30, 30, 230), (230, 230, 30), (30, 230, 230), (230, 30, 230)]
            stored = Image.new("RGB", (48, 32))
            for i in range(6):
                stored.paste(colours[i], ((i % 3) * 16, (i // 3) * 16, (i % 3) * 16 + 16, (i // 3) * 16 + 16))
            for n in range(1, 9):
                exif = Image.Exif()
                exif[0x0112] = n
                stored.save(f"{sys.argv[1]}/o{n}.jpg", quality=100, subsampling=0, exif=exif)
                ImageOps.exif_transpose(Image.open(f"{sys.argv[1]}/o{n}.jpg")).save(f"{sys.argv[1]}/o{n}-upright.jpg", quality=100, subsampling=0)
            """, dir.Path);
        using var stored = ImageDecoder.Decode(dir.File("o1.jpg"));

        for (int n = 2; n <= 8; n++)
        {
            using var decoded = ImageDecoder.Decode(dir.File($"o{n}.jpg"));
            using var upright = ImageDecoder.Decode(dir.File($"o{n}-upright.jpg"));

            Assert.Equal((upright.Width, upright.Height), (decoded.Width, decoded.Height));
            Assert.True(MeanAbsoluteDifference(decoded, upright) < 3, $"orientation {n}: {MeanAbsoluteDifference(decoded, upright):F1}");
            // The check can fail: the stored pixels, not turned, are far from upright.
            if (stored.Width == upright.Width)
            {
                Assert.True(MeanAbsoluteDifference(stored, upright) > 30, $"orientation {n} looks the same unturned");
            }
        }
    }

    [Fact]
    public void ImageFolder_HiddenFolders_AreSkippedAndReported()
    {
        using var dir = new TempDir();
        foreach (string folder in new[] { "a", "b", ".ipynb_checkpoints", ".git" })
        {
            Directory.CreateDirectory(dir.File(folder));
        }
        foreach (string folder in new[] { "a", "b", ".ipynb_checkpoints" })
        {
            File.Copy(FlowerJpeg, Path.Combine(dir.File(folder), "x.jpg"));
        }
        var notes = new List<string>();

        var (train, validation, _, _) = TrainingData.Load(new TrainOptions { Dataset = DatasetKind.Folder, Data = dir.Path, ValData = dir.Path, Resolution = 32 }, notes.Add);

        Assert.Equal(["a", "b"], train.Classes);
        Assert.Equal(2, train.Count);
        Assert.Equal([".git", ".ipynb_checkpoints"], ImageFolder.HiddenFolders(dir.Path));
        Assert.Contains(notes, n => n.Contains(".git, .ipynb_checkpoints", StringComparison.Ordinal) && n.Contains(dir.Path, StringComparison.Ordinal));
        Assert.Equal(2, validation.Count);
    }

    private static double MeanAbsoluteDifference(SKBitmap a, SKBitmap b)
    {
        var x = a.GetPixelSpan();
        var y = b.GetPixelSpan();
        long sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += Math.Abs(x[i] - y[i]);
        }
        return (double)sum / x.Length;
    }
}
