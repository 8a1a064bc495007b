using EfficientNet.Data;
using EfficientNet.Imaging;

namespace EfficientNet.Tests.Data;

public class DatasetTests
{
    private static readonly string Flowers = Path.Combine(TestPaths.SharedData, "flowers12");

    [Fact]
    public void Split_IsStratifiedDisjointAndSeeded()
    {
        var data = Cifar10.Load(Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin"), Cifar10Split.Train);
        var (train, val) = DatasetSplit.Split(data, 0.1, seed: 7);
        Assert.Equal(45_000, train.Count);
        Assert.Equal(5_000, val.Count);
        Assert.All(val.ClassCounts(), c => Assert.Equal(500, c));
        var (_, again) = DatasetSplit.Split(data, 0.1, seed: 7);
        var (_, other) = DatasetSplit.Split(data, 0.1, seed: 8);
        using var a = val.Batch(Enumerable.Range(0, 64).ToArray()).Images;
        using var b = again.Batch(Enumerable.Range(0, 64).ToArray()).Images;
        using var c2 = other.Batch(Enumerable.Range(0, 64).ToArray()).Images;
        TensorAssert.Identical(a, b);
        Assert.False(a.equal(c2).all().item<bool>());
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void Split_FractionOutOfRange_Throws(double fraction)
    {
        var data = new ImageDataset(new byte[2 * 3 * 2 * 2], [0, 1], ["a", "b"], 2, 2, "tiny");
        Assert.Throws<EfficientNetException>(() => DatasetSplit.Split(data, fraction, 1));
    }

    [Fact]
    public void Batch_ScalesBytesToUnitRange()
    {
        byte[] pixels = [0, 255, 51, 102, 0, 0, 0, 0, 0, 0, 0, 0];
        var data = new ImageDataset(pixels, [1], ["a", "b"], 2, 2, "tiny");
        var (images, labels) = data.Batch([0]);
        using (images)
        using (labels)
        {
            Assert.Equal(new long[] { 1, 3, 2, 2 }, images.shape);
            Assert.Equal(1f, images[0, 0, 0, 1].item<float>());
            Assert.Equal(0.4f, images[0, 0, 1, 1].item<float>(), 1e-6f); // 102 / 255 in float32: a few ulps (3e-8) of 0.4
            Assert.Equal(1L, labels[0].item<long>());
        }
    }

    [Fact]
    public void ImageFolder_Flowers12_LoadsTwelveClassesAtRequestedSize()
    {
        var train = ImageFolder.Load(Path.Combine(Flowers, "train"), 48);
        Assert.Equal(720, train.Count);
        Assert.Equal(12, train.Classes.Count);
        Assert.Equal("bluebell", train.Classes[0]);
        Assert.Equal((48, 48), (train.Height, train.Width));
        var test = ImageFolder.Load(Path.Combine(Flowers, "test"), 48, train.Classes);
        Assert.Equal(240, test.Count);
    }

    [Fact]
    public void ImageFolder_ClassesDiffer_ListsBoth()
    {
        using var dir = new TempDir();
        CopyClass("daisy", dir.Path);
        CopyClass("iris", dir.Path);
        var e = Assert.Throws<EfficientNetException>(() => ImageFolder.Load(dir.Path, 32, ["daisy", "pansy"]));
        Assert.Contains("differ from the model's classes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImageFolder_EmptyClassFolder_NamesIt()
    {
        using var dir = new TempDir();
        CopyClass("daisy", dir.Path);
        Directory.CreateDirectory(Path.Combine(dir.Path, "empty"));
        var e = Assert.Throws<EfficientNetException>(() => ImageFolder.Load(dir.Path, 32));
        Assert.Contains(Path.Combine(dir.Path, "empty"), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImageFolder_UnreadableImage_NamesTheFile()
    {
        using var dir = new TempDir();
        CopyClass("daisy", dir.Path);
        string bad = Path.Combine(dir.Path, "daisy", "zz-broken.jpg");
        File.WriteAllText(bad, "not a jpeg");
        var e = Assert.Throws<EfficientNetException>(() => ImageFolder.Load(dir.Path, 32));
        Assert.Contains(bad, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImageFolder_PipeNamedLikeAnImage_IsSkippedNotWaitedOn()
    {
        using var dir = new TempDir();
        CopyClass("daisy", dir.Path);
        int images = Directory.GetFiles(Path.Combine(dir.Path, "daisy")).Length;
        // Opening a FIFO blocks until something writes to it: listed as an image, it would hang the load forever.
        string pipe = Path.Combine(dir.Path, "daisy", "pipe.jpg");
        TestProcess.Run("mkfifo", [pipe]);

        var data = ImageFolder.Load(dir.Path, 32);

        Assert.Equal(images, data.Count);
        var e = Assert.Throws<EfficientNetException>(() => ImageDecoder.Decode(pipe).Dispose());
        Assert.Equal($"'{pipe}' is not a regular file (a pipe, socket or device); images are read from files only", e.Message);
    }

    [Fact]
    public void ImageFolder_Missing_SaysSo()
    {
        var e = Assert.Throws<EfficientNetException>(() => ImageFolder.Load("/nonexistent/flowers", 32));
        Assert.Equal("image folder not found: '/nonexistent/flowers'", e.Message);
    }

    private static void CopyClass(string name, string root)
    {
        string target = Path.Combine(root, name);
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(Path.Combine(Flowers, "train", name)).Order().Take(3))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
    }

    [Fact]
    public void Normalization_SharedPresets_CannotBeChanged()
    {
        Assert.Throws<NotSupportedException>(() => ((IList<float>)Normalization.ImageNet.Mean)[0] = 0);
        Assert.Throws<NotSupportedException>(() => ((IList<float>)Normalization.Cifar10.Std)[1] = 1);
        float[] mine = [0.1f, 0.2f, 0.3f];
        var copy = new Normalization(mine, [1f, 1f, 1f]);
        mine[0] = 9;
        Assert.Equal(0.1f, copy.Mean[0]);
        Assert.Equal(0.485f, Normalization.ImageNet.Mean[0]);
        Assert.Throws<EfficientNetException>(() => new Normalization([0f, 0f], [1f, 1f, 1f]));
    }
}
