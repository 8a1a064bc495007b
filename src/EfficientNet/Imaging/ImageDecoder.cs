using SkiaSharp;
using static TorchSharp.torch;

namespace EfficientNet.Imaging;

/// <summary>Decodes image files (JPEG, PNG, WebP, BMP, GIF: whatever SkiaSharp reads) into model inputs.</summary>
public static class ImageDecoder
{
    /// <summary>Decodes <paramref name="path"/> as 8-bit RGBA, unpremultiplied.</summary>
    /// <exception cref="EfficientNetException">The file is missing or not a decodable image.</exception>
    public static SKBitmap Decode(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new EfficientNetException($"image not found: '{path}'");
        }
        using var codec = SKCodec.Create(path)
            ?? throw new EfficientNetException($"'{path}' is not an image SkiaSharp can decode (JPEG, PNG, WebP, BMP, GIF)");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
        {
            bitmap.Dispose();
            throw new EfficientNetException($"cannot decode image '{path}': {result}");
        }
        return bitmap;
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

    private static void ToPlanes(SKBitmap bitmap, Preprocessing preprocessing, Span<float> destination)
    {
        byte[] rgb = ResizeAndCrop(bitmap, preprocessing.ResizeSize, preprocessing.CropSize, preprocessing.Interpolation);
        int plane = preprocessing.CropSize * preprocessing.CropSize;
        for (int c = 0; c < 3; c++)
        {
            float mean = preprocessing.Normalization.Mean[c];
            float std = preprocessing.Normalization.Std[c];
            for (int i = c * plane; i < (c + 1) * plane; i++)
            {
                destination[i] = (rgb[i] / 255f - mean) / std;
            }
        }
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
        if (source.Width < crop || source.Height < crop)
        {
            throw new EfficientNetException($"crop {crop} is larger than the resized image {source.Width}x{source.Height}");
        }
        int left = (source.Width - crop) / 2;
        int top = (source.Height - crop) / 2;
        var rgba = source.GetPixelSpan();
        int rowBytes = source.RowBytes;
        int plane = crop * crop;
        byte[] rgb = new byte[3 * plane];
        for (int y = 0; y < crop; y++)
        {
            int row = (top + y) * rowBytes + left * 4;
            for (int x = 0; x < crop; x++)
            {
                int p = row + x * 4;
                int o = y * crop + x;
                rgb[o] = rgba[p];
                rgb[plane + o] = rgba[p + 1];
                rgb[2 * plane + o] = rgba[p + 2];
            }
        }
        return rgb;
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
        // Bilinear reads mipmaps, so large reductions average instead of aliasing; bicubic is
        // Catmull-Rom, as torchvision's BICUBIC presets.
        var sampling = interpolation == Interpolation.Bilinear
            ? new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear)
            : new SKSamplingOptions(SKCubicResampler.CatmullRom);
        return bitmap.Resize(info, sampling)
            ?? throw new EfficientNetException($"cannot resize a {bitmap.Width}x{bitmap.Height} image to {width}x{height}");
    }
}
