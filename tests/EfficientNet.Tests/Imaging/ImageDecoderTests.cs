using EfficientNet.Imaging;
using EfficientNet.Inference.Engines;
using EfficientNet.Inference;
using EfficientNet.Models;
using SkiaSharp;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Imaging;

public class ImageDecoderTests
{
    private static readonly string FlowerImage = Path.Combine(TestPaths.SharedData, "flowers12", "test", "daisy");

    [Fact]
    public void Load_ImageAlreadyAtResolution_IsNotResampled()
    {
        using var dir = new TempDir();
        string path = dir.File("gradient.png");
        const int size = 40;
        WritePng(path, size, size, (x, y) => new SKColor((byte)(x * 6), (byte)(y * 6), (byte)(x + y)));
        var prep = Preprocessing.ForResolution(size);
        using var tensor = ImageDecoder.Load(path, prep);
        Assert.Equal(new long[] { 3, size, size }, tensor.shape);
        // Pixel (x=7, y=3) exactly, per channel: (v / 255 - mean) / std.
        float[] expected = [7 * 6, 3 * 6, 10];
        for (int c = 0; c < 3; c++)
        {
            float value = (expected[c] / 255f - prep.Normalization.Mean[c]) / prep.Normalization.Std[c];
            Assert.Equal(value, tensor[c, 3, 7].item<float>(), 1e-5f); // float32 arithmetic in another order: a few ulps of values up to ~2.6
        }
    }

    [Fact]
    public void Load_WideImage_ResizesShorterSideAndCropsCentre()
    {
        using var dir = new TempDir();
        string path = dir.File("wide.png");
        // Left third red, middle third green, right third blue: the centre crop must be all green.
        WritePng(path, 300, 100, (x, _) => x < 100 ? SKColors.Red : x < 200 ? SKColors.Lime : SKColors.Blue);
        var prep = new Preprocessing(50, 50, new Normalization([0f, 0f, 0f], [1f, 1f, 1f]));
        using var tensor = ImageDecoder.Load(path, prep);
        Assert.Equal(new long[] { 3, 50, 50 }, tensor.shape);
        Assert.InRange(tensor[1].min().item<float>(), 0.95f, 1f);
        Assert.InRange(tensor[0].max().item<float>(), 0f, 0.05f);
        Assert.InRange(tensor[2].max().item<float>(), 0f, 0.05f);
    }

    [Fact]
    public void Load_NotAnImage_NamesTheFile()
    {
        using var dir = new TempDir();
        string path = dir.File("broken.jpg");
        File.WriteAllBytes(path, [0xFF, 0xD8, 0x00, 0x01, 0x02]);
        var e = Assert.Throws<EfficientNetException>(() => ImageDecoder.Load(path, Preprocessing.ForResolution(32)));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFile_NamesTheFile()
    {
        var e = Assert.Throws<EfficientNetException>(() => ImageDecoder.Load("/nonexistent/cat.jpg", Preprocessing.ForResolution(32)));
        Assert.Equal("image not found: '/nonexistent/cat.jpg'", e.Message);
    }

    [Fact]
    public void Predict_RealFlowerPhoto_ReturnsSortedProbabilities()
    {
        string image = Directory.GetFiles(FlowerImage, "*.jpg").Order().First();
        var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 12, Resolution = 96 });
        string[] labels = Enumerable.Range(0, 12).Select(i => $"class{i}").ToArray();
        using var classifier = new Classifier(new TorchEngine(model), ClassifierInfo.For(model, labels));
        var predictions = classifier.Predict(image, top: 5);
        Assert.Equal(5, predictions.Count);
        Assert.True(predictions.Zip(predictions.Skip(1)).All(p => p.First.Probability >= p.Second.Probability));
        Assert.InRange(predictions.Sum(p => p.Probability), 0, 1 + 1e-6);
        Assert.All(predictions, p => Assert.Equal($"class{p.Index}", p.Label));
        Assert.Equal(12, classifier.Predict(image, top: 50).Count);
    }

    [Fact]
    public void Predict_LabelCountDiffersFromClasses_Throws()
    {
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 3, Resolution = 64 });
        var e = Assert.Throws<EfficientNetException>(() => ClassifierInfo.For(model, ["a", "b"]));
        Assert.Contains("2 labels given for a model with 3 classes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResizePlanes_GivesWhatResizingTheSameImageFromAFileGives()
    {
        using var dir = new TempDir();
        string path = dir.File("noise.png");
        var random = new Random(3);
        byte[] planes = new byte[3 * 32 * 32];
        random.NextBytes(planes);
        WritePng(path, 32, 32, (x, y) => new SKColor(planes[y * 32 + x], planes[1024 + y * 32 + x], planes[2048 + y * 32 + x]));
        using var decoded = ImageDecoder.Decode(path);

        Assert.Equal(ImageDecoder.ResizeAndCrop(decoded, 48, 48), ImageDecoder.ResizePlanes(planes, 32, 32, 48));
        Assert.Equal(planes, ImageDecoder.ResizePlanes(planes, 32, 32, 32));
        Assert.Throws<ArgumentException>(() => ImageDecoder.ResizePlanes(planes, 32, 16, 48));
    }

    [Fact]
    public void LoadInto_ImageInMemory_EqualsNormalisingTheResizedCropExactly()
    {
        // A real photo, resized (bicubic, shorter side 160) and centre-cropped to 128: the one-pass planes must be the
        // byte planes ResizeAndCrop gives, each normalised as (v / 255 - mean) / std, bit for bit.
        string photo = Directory.EnumerateFiles(FlowerImage).Order(StringComparer.Ordinal).First();
        byte[] data = File.ReadAllBytes(photo);
        var prep = new Preprocessing(160, 128, Normalization.ImageNet);
        float[] planes = new float[3 * 128 * 128];
        ImageDecoder.LoadInto(data, "upload", prep, planes);

        using var decoded = ImageDecoder.Decode(photo);
        byte[] bytes = ImageDecoder.ResizeAndCrop(decoded, 160, 128);
        for (int i = 0; i < planes.Length; i++)
        {
            int c = i / (128 * 128);
            Assert.Equal((bytes[i] / 255f - prep.Normalization.Mean[c]) / prep.Normalization.Std[c], planes[i]);
        }
        using var loaded = ImageDecoder.Load(photo, prep);
        Assert.Equal(planes, loaded.data<float>().ToArray());
        var e = Assert.Throws<ArgumentException>(() => ImageDecoder.LoadInto(data, "upload", prep, new float[10]));
        Assert.Contains("3 planes of 128x128", e.Message, StringComparison.Ordinal);
    }

    private static void WritePng(string path, int width, int height, Func<int, int, SKColor> color)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                bitmap.SetPixel(x, y, color(x, y));
            }
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }
}
