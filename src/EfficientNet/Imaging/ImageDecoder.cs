using System.Runtime.InteropServices;
using EfficientNet.IO;
using SkiaSharp;
using static TorchSharp.torch;

namespace EfficientNet.Imaging;

/// <summary>
/// Decodes image files (JPEG, PNG, WebP, BMP, GIF: whatever SkiaSharp reads) into model inputs; JPEG through
/// libjpeg-turbo's TurboJPEG library where the system has it (<see cref="TurboJpeg"/>: the same pixels, faster).
/// </summary>
public static class ImageDecoder
{
    /// <summary>The file extensions folders are searched for (lower case, with the dot): what SkiaSharp decodes (a GIF's first frame).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"];

    /// <summary>
    /// Images with more pixels than this are refused before decoding (a decompression bomb: a small file that
    /// claims a huge image). The same limit as Pillow's error threshold (2 x 89,478,485).
    /// </summary>
    public const long MaxPixels = 178_956_970;

    /// <summary>
    /// Whether JPEG is decoded by libjpeg-turbo's TurboJPEG library (found on this system, and not turned off with
    /// <c>EFFNET_TURBOJPEG=off</c>) rather than by SkiaSharp: the same pixels either way, faster with it.
    /// </summary>
    public static bool UsesTurboJpeg => TurboJpeg.Available;

    /// <summary>
    /// Why the library <c>EFFNET_TURBOJPEG</c> names does not decode JPEG (it does not load, lacks TurboJPEG's functions,
    /// or this is not 64-bit Linux or macOS), in one line; null when it does, or when the variable names no library.
    /// JPEG is still decoded then, by SkiaSharp: a host that wants to know tells its user this line.
    /// </summary>
    public static string? TurboJpegProblem => TurboJpeg.Problem;

    /// <summary>
    /// Decodes <paramref name="path"/> as 8-bit RGBA, unpremultiplied, turned upright as its EXIF orientation
    /// says (a phone photo taken upright comes out upright).
    /// </summary>
    /// <exception cref="EfficientNetException">
    /// The file is missing, not a regular file, not a decodable image, truncated (its data ends early), or larger than <see cref="MaxPixels"/>.
    /// </exception>
    public static SKBitmap Decode(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new EfficientNetException(path.Contains('\uFFFD', StringComparison.Ordinal)
                ? $"image not found: '{path}' (U+FFFD in a name read from disk stands for bytes that are not UTF-8, and .NET cannot open such a name; rename the file)"
                : $"image not found: '{path}'");
        }
        if (FileKind.Of(path) == FileType.Special)
        {
            throw new EfficientNetException($"'{path}' is not a regular file (a pipe, socket or device); images are read from files only");
        }
        using var codec = SKCodec.Create(path);
        return Decode(codec, path, () => File.ReadAllBytes(path), () => IsCut(path));
    }

    /// <summary>
    /// Decodes an image held in memory (an upload, say) as <see cref="Decode(string)"/> decodes a file;
    /// <paramref name="name"/> names it in errors.
    /// </summary>
    /// <exception cref="EfficientNetException">Not a decodable image, truncated, or larger than <see cref="MaxPixels"/>.</exception>
    public static SKBitmap Decode(byte[] data, string name)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(name);
        using var encoded = SKData.CreateCopy(data);
        using var codec = SKCodec.Create(encoded);
        return Decode(codec, name, () => data, () => IsCut(data, data.Length >= 12 ? data.AsSpan(data.Length - 12) : [], data.Length));
    }

    // The codec's image, checked for its size and decoded whole; `encoded` gives its bytes (read only for a JPEG when
    // TurboJPEG is there), `isCut` tells a truncated image from another format.
    private static SKBitmap Decode(SKCodec? codec, string name, Func<byte[]> encoded, Func<bool> isCut)
    {
        if (codec is null)
        {
            throw new EfficientNetException(isCut() ? Truncated(name) : $"'{name}' is not an image SkiaSharp can decode (JPEG, PNG, WebP, BMP, GIF)");
        }
        long pixels = (long)codec.Info.Width * codec.Info.Height;
        if (pixels > MaxPixels)
        {
            throw new EfficientNetException(
                $"'{name}' claims {codec.Info.Width}x{codec.Info.Height} pixels, more than the {MaxPixels / 1e6:F0} megapixels images are decoded up to (a decompression bomb, or an image to shrink first)");
        }
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var bitmap = new SKBitmap(info);
        var result = DecodePixels(codec, info, bitmap.GetPixels(), encoded);
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw new EfficientNetException(result == SKCodecResult.IncompleteInput || isCut()
                ? Truncated(name)
                : $"cannot decode image '{name}': {result}");
        }
        return Upright(bitmap, codec.EncodedOrigin);
    }

    // A JPEG through TurboJPEG when it is there and takes it (same pixels, about twice as fast), else SkiaSharp.
    private static SKCodecResult DecodePixels(SKCodec codec, SKImageInfo info, nint pixels, Func<byte[]> encoded) =>
        codec.EncodedFormat == SKEncodedImageFormat.Jpeg && TurboJpeg.Available && TurboJpeg.TryDecode(encoded(), info.Width, info.Height, pixels)
            ? SKCodecResult.Success
            : codec.GetPixels(info, pixels);

    private static string Truncated(string path) =>
        $"'{path}' is truncated: its image data ends early (a partial copy or download); copy it again or remove it";

    /// <summary>
    /// Whether <paramref name="path"/> starts as a JPEG or PNG but lacks the marker each ends with (JPEG's end-of-image
    /// FF D9, PNG's IEND chunk): a file cut short, whatever the decoder made of the rest.
    /// </summary>
    private static bool IsCut(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> start = stackalloc byte[8];
        Span<byte> end = stackalloc byte[12];
        int read = file.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        if (file.Length >= end.Length)
        {
            file.Seek(-end.Length, SeekOrigin.End);
            file.ReadExactly(end);
        }
        return IsCut(start[..read], file.Length >= end.Length ? end : [], file.Length);
    }

    // The check of IsCut(path) on an image's first bytes, its last 12 (empty when it is shorter) and its length.
    private static bool IsCut(ReadOnlySpan<byte> start, ReadOnlySpan<byte> end, long length)
    {
        bool jpeg = start.Length >= 3 && start[..3].SequenceEqual((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]);
        bool png = start.Length >= 8 && start[..8].SequenceEqual((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        if (!jpeg && !png)
        {
            return false;
        }
        if (length < 12)
        {
            return true;
        }
        // JPEG files may carry a few bytes of padding after FF D9; PNG's last chunk is IEND with its fixed CRC.
        return (jpeg && end.IndexOf((ReadOnlySpan<byte>)[0xFF, 0xD9]) < 0)
            || (png && !end[4..].SequenceEqual((ReadOnlySpan<byte>)[0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]));
    }

    /// <summary>
    /// The bitmap as it is meant to be seen: EXIF orientations 2-8 (mirrored and/or rotated storage) remapped pixel
    /// by pixel, without resampling. Disposes <paramref name="stored"/> when it returns a new bitmap.
    /// </summary>
    private static SKBitmap Upright(SKBitmap stored, SKEncodedOrigin origin)
    {
        if (origin == SKEncodedOrigin.TopLeft)
        {
            return stored;
        }
        int w = stored.Width, h = stored.Height;
        bool swapsSides = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        var upright = new SKBitmap(new SKImageInfo(swapsSides ? h : w, swapsSides ? w : h, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var from = MemoryMarshal.Cast<byte, uint>(stored.GetPixelSpan());
        var to = MemoryMarshal.Cast<byte, uint>(upright.GetPixelSpan());
        int fromRow = stored.RowBytes / 4, toRow = upright.RowBytes / 4;
        for (int y = 0; y < upright.Height; y++)
        {
            for (int x = 0; x < upright.Width; x++)
            {
                // (sx, sy): the stored pixel shown at (x, y).
                var (sx, sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (w - 1 - x, y),
                    SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y),
                    SKEncodedOrigin.BottomLeft => (x, h - 1 - y),
                    SKEncodedOrigin.LeftTop => (y, x),
                    SKEncodedOrigin.RightTop => (y, h - 1 - x),
                    SKEncodedOrigin.RightBottom => (w - 1 - y, h - 1 - x),
                    SKEncodedOrigin.LeftBottom => (w - 1 - y, x),
                    _ => (x, y),
                };
                to[y * toRow + x] = from[sy * fromRow + sx];
            }
        }
        stored.Dispose();
        return upright;
    }

    /// <summary>Decodes, resizes, centre-crops and normalises one file into a (3, crop, crop) float tensor.</summary>
    public static Tensor Load(string path, Preprocessing preprocessing)
    {
        using var bitmap = Decode(path);
        return ToTensor(bitmap, preprocessing);
    }

    /// <summary>Resizes, centre-crops and normalises a decoded RGBA bitmap into a (3, crop, crop) float tensor.</summary>
    public static Tensor ToTensor(SKBitmap bitmap, Preprocessing preprocessing)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        int crop = preprocessing.CropSize;
        float[] data = new float[3 * crop * crop];
        ToPlanes(bitmap, preprocessing, data);
        return tensor(data, [3, crop, crop]);
    }

    /// <summary>Decodes, resizes, centre-crops and normalises one file into <paramref name="destination"/> (3 planes of crop x crop floats).</summary>
    /// <remarks>Allocates no tensor, so several threads can decode into one batch buffer.</remarks>
    public static void LoadInto(string path, Preprocessing preprocessing, Span<float> destination)
    {
        using var bitmap = Decode(path);
        ToPlanes(bitmap, preprocessing, destination);
    }

    /// <summary>
    /// Decodes an image held in memory (see <see cref="Decode(byte[], string)"/>), resizes, centre-crops and normalises
    /// it into <paramref name="destination"/> (3 planes of crop x crop floats).
    /// </summary>
    /// <exception cref="EfficientNetException">Not a decodable image, truncated, or larger than <see cref="MaxPixels"/>.</exception>
    public static void LoadInto(byte[] data, string name, Preprocessing preprocessing, Span<float> destination)
    {
        using var bitmap = Decode(data, name);
        ToPlanes(bitmap, preprocessing, destination);
    }

    // Resized, centre-cropped and normalised in one pass over the crop: each channel's 256 byte values are normalised
    // once, by the same expression (v / 255 - mean) / std, so the planes equal normalising ResizeAndCrop's bytes.
    private static void ToPlanes(SKBitmap bitmap, Preprocessing preprocessing, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        int crop = preprocessing.CropSize, plane = crop * crop;
        if (destination.Length != 3 * plane)
        {
            throw new ArgumentException($"the destination holds {destination.Length} floats, not 3 planes of {crop}x{crop}", nameof(destination));
        }
        using var resized = ResizeShorterSide(bitmap, preprocessing.ResizeSize, preprocessing.Interpolation);
        var source = resized ?? bitmap;
        var (left, top) = CentreCrop(source, crop);
        Span<float> levels = stackalloc float[3 * 256];
        for (int c = 0; c < 3; c++)
        {
            float mean = preprocessing.Normalization.Mean[c], std = preprocessing.Normalization.Std[c];
            for (int v = 0; v < 256; v++)
            {
                levels[c * 256 + v] = (v / 255f - mean) / std;
            }
        }
        Gather(source, left, top, crop, flip: false, levels, destination);
    }

    /// <summary>
    /// Resizes the shorter side to <paramref name="resize"/> (no resampling when it already has that
    /// length), takes the centre <paramref name="crop"/> square and returns it as 8-bit RGB planes.
    /// </summary>
    public static byte[] ResizeAndCrop(SKBitmap bitmap, int resize, int crop, Interpolation interpolation = Interpolation.Bicubic)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        using var resized = ResizeShorterSide(bitmap, resize, interpolation);
        var source = resized ?? bitmap;
        var (left, top) = CentreCrop(source, crop);
        return Planes(source, left, top, crop);
    }

    // Where the centre crop x crop square of the resized image starts.
    private static (int Left, int Top) CentreCrop(SKBitmap resized, int crop) =>
        resized.Width < crop || resized.Height < crop
            ? throw new EfficientNetException($"crop {crop} is larger than the resized image {resized.Width}x{resized.Height}")
            : ((resized.Width - crop) / 2, (resized.Height - crop) / 2);

    /// <summary>
    /// The <paramref name="box"/> of <paramref name="bitmap"/> resized to <paramref name="size"/> x <paramref name="size"/>
    /// (bilinear; from mipmaps when a side shrinks more than twofold, so a large reduction averages instead of aliasing;
    /// building them costs most of a crop's time, so smaller changes go without), as 8-bit RGB planes,
    /// mirrored left to right when <paramref name="flip"/> is set.
    /// </summary>
    internal static byte[] CropAndResize(SKBitmap bitmap, SKRectI box, int size, bool flip = false, Interpolation interpolation = Interpolation.Bilinear)
    {
        var sampling = interpolation == Interpolation.Bilinear && Math.Max(box.Width, box.Height) <= 2 * size
            ? new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None)
            : Sampling(interpolation);
        ArgumentNullException.ThrowIfNull(bitmap);
        using var part = new SKBitmap();
        if (!bitmap.ExtractSubset(part, box))
        {
            throw new ArgumentException($"the box {box} is not inside the {bitmap.Width}x{bitmap.Height} image", nameof(box));
        }
        using var resized = part.Resize(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul), sampling)
            ?? throw new EfficientNetException($"cannot resize a {box.Width}x{box.Height} crop to {size}x{size}");
        return Planes(resized, 0, 0, size, flip);
    }

    // The crop x crop square at (left, top) as RGB planes, mirrored when flip is set.
    private static byte[] Planes(SKBitmap source, int left, int top, int crop, bool flip = false)
    {
        byte[] rgb = new byte[3 * crop * crop];
        Gather(source, left, top, crop, flip, ByteLevels, rgb);
        return rgb;
    }

    // Each channel's 8-bit values as themselves: Gather's table for byte planes.
    private static readonly byte[] ByteLevels = [.. Enumerable.Range(0, 3 * 256).Select(i => (byte)(i % 256))];

    // Writes the crop x crop square at (left, top) as 3 planes, channel c's 8-bit value v as levels[256 c + v], mirrored
    // when flip is set. Pixels are read as whole 32-bit words, a row at a time, which is several times faster than a
    // byte at a time.
    private static void Gather<T>(SKBitmap source, int left, int top, int crop, bool flip, ReadOnlySpan<T> levels, Span<T> destination)
    {
        var pixels = MemoryMarshal.Cast<byte, uint>(source.GetPixelSpan());
        int rowPixels = source.RowBytes / 4;
        int plane = crop * crop;
        // RGBA bytes in memory: R is the low byte of the word on little-endian machines, the high one elsewhere.
        var (redShift, greenShift, blueShift) = BitConverter.IsLittleEndian ? (0, 8, 16) : (24, 16, 8);
        for (int y = 0; y < crop; y++)
        {
            var row = pixels.Slice((top + y) * rowPixels + left, crop);
            var r = destination.Slice(y * crop, crop);
            var g = destination.Slice(plane + y * crop, crop);
            var b = destination.Slice(2 * plane + y * crop, crop);
            for (int x = 0; x < row.Length; x++)
            {
                uint p = row[flip ? crop - 1 - x : x];
                r[x] = levels[(int)((p >> redShift) & 0xFF)];
                g[x] = levels[256 + (int)((p >> greenShift) & 0xFF)];
                b[x] = levels[512 + (int)((p >> blueShift) & 0xFF)];
            }
        }
    }

    /// <summary>
    /// <see cref="ResizeAndCrop"/> for an image already in memory as 8-bit RGB planes (3, <paramref name="height"/>,
    /// <paramref name="width"/>), e.g. a CIFAR-10 record: the same filter, so a model trained on resized planes sees
    /// what it sees when the same image comes from a file.
    /// </summary>
    public static byte[] ResizePlanes(ReadOnlySpan<byte> planes, int width, int height, int size, Interpolation interpolation = Interpolation.Bicubic)
    {
        int plane = checked(width * height);
        if (planes.Length != 3 * plane)
        {
            throw new ArgumentException($"{planes.Length} bytes are not 3 planes of {width}x{height}", nameof(planes));
        }
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var rgba = bitmap.GetPixelSpan();
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int p = y * bitmap.RowBytes + x * 4, o = y * width + x;
                (rgba[p], rgba[p + 1], rgba[p + 2], rgba[p + 3]) = (planes[o], planes[plane + o], planes[2 * plane + o], 255);
            }
        }
        return ResizeAndCrop(bitmap, size, size, interpolation);
    }

    /// <summary>Returns a resized copy, or null when the shorter side already has the target length.</summary>
    private static SKBitmap? ResizeShorterSide(SKBitmap bitmap, int shorter, Interpolation interpolation)
    {
        int current = Math.Min(bitmap.Width, bitmap.Height);
        if (current == shorter)
        {
            return null;
        }
        double scale = (double)shorter / current;
        int width = bitmap.Width <= bitmap.Height ? shorter : (int)Math.Round(bitmap.Width * scale);
        int height = bitmap.Height < bitmap.Width ? shorter : (int)Math.Round(bitmap.Height * scale);
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        return bitmap.Resize(info, Sampling(interpolation))
            ?? throw new EfficientNetException($"cannot resize a {bitmap.Width}x{bitmap.Height} image to {width}x{height}");
    }

    // Bilinear reads mipmaps, so large reductions average instead of aliasing; bicubic is Catmull-Rom, as
    // torchvision's BICUBIC presets.
    private static SKSamplingOptions Sampling(Interpolation interpolation) => interpolation == Interpolation.Bilinear
        ? new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear)
        : new SKSamplingOptions(SKCubicResampler.CatmullRom);
}
