using EfficientNet.Imaging;
using SkiaSharp;

namespace EfficientNet.Tests.Imaging;

/// <summary>JPEG decoding through TurboJPEG gives SkiaSharp's pixels, byte for byte, and leaves every other case to SkiaSharp.</summary>
public class TurboJpegTests
{
    private static readonly string FlowerTest = Path.Combine(TestPaths.SharedData, "flowers12", "test");

    [Fact]
    public void Available_OnThisMachine()
    {
        Assert.True(TurboJpeg.Available, "libturbojpeg.so.0 was not found: apt-get install libturbojpeg0 (bash .ci/run installs it)");
        Assert.Null(ImageDecoder.TurboJpegProblem);
    }

    [Theory]
    [InlineData("/nonexistent/libturbojpeg.so.0", "which does not load as a library")]
    [InlineData("libz.so.1", "which lacks TurboJPEG's functions")]
    public void ALibraryNamedThatIsNotUsed_EffnetSaysWhy_AndGoesOn(string library, string why)
    {
        var (exit, _, err) = Cli.EffnetProcess.Run(["variants"], new Dictionary<string, string> { ["EFFNET_TURBOJPEG"] = library });
        Assert.Equal(0, exit);
        Assert.Contains($"effnet: note: EFFNET_TURBOJPEG names '{library}', {why}", err, StringComparison.Ordinal);
        Assert.EndsWith("SkiaSharp decodes JPEG", err.Split('\n')[0].TrimEnd(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("off")]
    [InlineData(null)]
    public void NoLibraryNamed_EffnetSaysNothingOfIt(string? setting)
    {
        var (exit, _, err) = Cli.EffnetProcess.Run(["variants"], new Dictionary<string, string> { ["EFFNET_TURBOJPEG"] = setting ?? "" });
        Assert.Equal(0, exit);
        Assert.DoesNotContain("EFFNET_TURBOJPEG", err, StringComparison.Ordinal);
    }

    [Fact]
    public void TryDecode_EveryFlowerPhoto_GivesSkiaSharpsPixels()
    {
        string[] photos = Directory.GetFiles(FlowerTest, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        Assert.True(photos.Length >= 200, $"{photos.Length} photos under {FlowerTest}");
        foreach (string photo in photos)
        {
            AssertSameAsSkiaSharp(photo);
        }
    }

    [Fact]
    public void TryDecode_EachSubsamplingProgressiveGreyAndOddSize_GivesSkiaSharpsPixels()
    {
        using var dir = new TempDir();
        Variants(dir.Path, FirstPhoto());
        foreach (string name in new[] { "s444.jpg", "s422.jpg", "s420.jpg", "progressive.jpg", "grey.jpg", "odd.jpg", "odd-progressive.jpg" })
        {
            AssertSameAsSkiaSharp(dir.File(name));
        }
    }

    [Fact]
    public void TryDecode_CmykTruncatedOrCorrupt_DeclinesAndImageDecoderFallsBackToSkiaSharp()
    {
        using var dir = new TempDir();
        Variants(dir.Path, FirstPhoto());
        byte[] cmyk = File.ReadAllBytes(dir.File("cmyk.jpg"));
        byte[] whole = File.ReadAllBytes(FirstPhoto());
        byte[] corrupt = (byte[])whole.Clone();
        // A restart marker where the scan has none: libjpeg warns ("Corrupt JPEG data") and decodes on.
        (corrupt[whole.Length / 2], corrupt[whole.Length / 2 + 1]) = (0xFF, 0xD5);
        var (width, height) = Size(whole);
        var (cmykWidth, cmykHeight) = Size(cmyk);
        // Room for any of them (one pixel wider than the largest).
        using var bitmap = new SKBitmap(new SKImageInfo(Math.Max(width, cmykWidth) + 1, Math.Max(height, cmykHeight), SKColorType.Rgba8888, SKAlphaType.Unpremul));

        Assert.False(TurboJpeg.TryDecode(cmyk, cmykWidth, cmykHeight, bitmap.GetPixels()), "CMYK");
        Assert.False(TurboJpeg.TryDecode(whole.AsSpan(0, whole.Length / 2), width, height, bitmap.GetPixels()), "truncated");
        Assert.False(TurboJpeg.TryDecode(corrupt, width, height, bitmap.GetPixels()), "corrupt");
        Assert.False(TurboJpeg.TryDecode(whole, width + 1, height, bitmap.GetPixels()), "another size");
        Assert.True(TurboJpeg.TryDecode(whole, width, height, bitmap.GetPixels()), "the whole photo");
        // The CMYK image still decodes, through SkiaSharp.
        using var decoded = ImageDecoder.Decode(cmyk, "cmyk.jpg");
        Assert.Equal(SkiaSharpPixels(cmyk), Pixels(decoded));
    }

    // ImageDecoder's pixels (TurboJPEG's, which must have taken the file) equal SkiaSharp's own decoding of the file.
    private static void AssertSameAsSkiaSharp(string path)
    {
        byte[] data = File.ReadAllBytes(path);
        byte[] skia = SkiaSharpPixels(data);
        var (width, height) = Size(data);
        using var direct = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        Assert.True(TurboJpeg.TryDecode(data, direct.Width, direct.Height, direct.GetPixels()), $"TurboJPEG declined {path}");
        Assert.True(skia.AsSpan().SequenceEqual(Pixels(direct)), $"{path}: TurboJPEG's pixels differ from SkiaSharp's");
        using var decoded = ImageDecoder.Decode(path);
        Assert.True(skia.AsSpan().SequenceEqual(Pixels(decoded)), $"{path}: ImageDecoder's pixels differ from SkiaSharp's");
    }

    private static byte[] SkiaSharpPixels(byte[] data)
    {
        using var codec = SKCodec.Create(new MemoryStream(data));
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        Assert.Equal(SKCodecResult.Success, codec.GetPixels(info, bitmap.GetPixels()));
        return Pixels(bitmap);
    }

    private static byte[] Pixels(SKBitmap bitmap) => bitmap.GetPixelSpan().ToArray();

    private static (int Width, int Height) Size(byte[] data)
    {
        using var codec = SKCodec.Create(new MemoryStream(data));
        return (codec.Info.Width, codec.Info.Height);
    }

    private static string FirstPhoto() =>
        Directory.GetFiles(Path.Combine(FlowerTest, "daisy"), "*.jpg").Order(StringComparer.Ordinal).First();

    // Pillow's encodings of one photo: each chroma subsampling, progressive, greyscale, CMYK, and an odd size (not a
    // multiple of the 16-pixel blocks).
    private static void Variants(string folder, string photo) => PythonScript.Run(
        """
        import sys
        from PIL import Image
        photo, out = Image.open(sys.argv[1]).convert("RGB"), sys.argv[2]
        for name, subsampling in (("s444", 0), ("s422", 1), ("s420", 2)):
            photo.save(f"{out}/{name}.jpg", quality=90, subsampling=subsampling)
        photo.save(f"{out}/progressive.jpg", quality=90, progressive=True)
        photo.convert("L").save(f"{out}/grey.jpg", quality=90)
        photo.convert("CMYK").save(f"{out}/cmyk.jpg", quality=90)
        odd = photo.resize((333, 217))
        odd.save(f"{out}/odd.jpg", quality=95)
        odd.save(f"{out}/odd-progressive.jpg", quality=95, progressive=True, subsampling=1)
        """, photo, folder);
}
