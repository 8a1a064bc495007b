using EfficientNet.Data;
using EfficientNet.Tests.Cli;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using SkiaSharp;

namespace EfficientNet.Tests.Data;

/// <summary>List files of path,label rows: the same dataset as the folder they list, and errors naming the file and line.</summary>
public class ImageListTests
{
    private static readonly string Flowers = Path.Combine(TestPaths.SharedData, "flowers12");

    [Fact]
    public void Load_ListOfAFolder_IsThatFolder()
    {
        using var dir = new TempDir();
        string root = Path.Combine(Flowers, "train");
        var folder = ImageFolder.Load(root, 32);
        // The folder's images under other names: relative, absolute, and one with a comma and a quote (quoted), in another order.
        Directory.CreateDirectory(dir.File("images"));
        var rows = new List<string> { "path,label" };
        var files = Directory.GetDirectories(root).Order(StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d).Order(StringComparer.Ordinal).Select(f => (File: f, Label: Path.GetFileName(d)))).ToList();
        for (int i = files.Count - 1; i >= 0; i--)
        {
            string name = i % 3 == 0 ? $"images/{i}, \"odd\".jpg" : i % 3 == 1 ? $"images/{i}.jpg" : dir.File($"images/{i}.jpg");
            File.Copy(files[i].File, Path.IsPathRooted(name) ? name : dir.File(name));
            rows.Add($"{(name.Contains(',', StringComparison.Ordinal) ? $"\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : name)},{files[i].Label}");
        }
        File.WriteAllLines(dir.File("train.csv"), rows);

        var listed = ImageFolder.Load(dir.File("train.csv"), 32);

        Assert.Equal(folder.Classes, listed.Classes);
        Assert.Equal(folder.Count, listed.Count);
        int[] reversed = [.. Enumerable.Range(0, folder.Count).Reverse()];
        Assert.Equal(folder.Labels, reversed.Select(i => listed.Labels[i]));
        var (a, _) = folder.Batch(Enumerable.Range(0, folder.Count).ToArray());
        var (b, _) = listed.Batch(reversed);
        TensorAssert.Identical(a, b);
    }

    [Theory]
    [InlineData("images/a.jpg,daisy\nimages/b.jpg\n", "line 2: expected 2 fields (path,label), found 1")]
    [InlineData("path,label\nimages/a.jpg,daisy\nimages/b.jpg, \n", "line 3: the label is empty")]
    [InlineData("images/a.jpg,daisy\nimages/none.jpg,daisy\n", "line 2: image not found: '")]
    [InlineData("path,label\n", "has no rows; expected path,label rows")]
    public void Load_BadList_NamesTheFileAndLine(string list, string expected)
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("images"));
        string daisy = Directory.GetFiles(Path.Combine(Flowers, "train", "daisy")).Order(StringComparer.Ordinal).First();
        File.Copy(daisy, dir.File("images/a.jpg"));
        File.Copy(daisy, dir.File("images/b.jpg"));
        File.WriteAllText(dir.File("list.csv"), list);

        var e = Assert.Throws<EfficientNetException>(() => ImageFolder.Load(dir.File("list.csv"), 32));

        Assert.Contains($"'{dir.File("list.csv")}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ListWithAByteOrderMark_ReadsAsWithout()
    {
        // Excel's "CSV UTF-8" starts the file with EF BB BF; the header must still be a header and the first path a path.
        using var dir = new TempDir();
        string daisy = Directory.GetFiles(Path.Combine(Flowers, "train", "daisy")).Order(StringComparer.Ordinal).First();
        string iris = Directory.GetFiles(Path.Combine(Flowers, "train", "iris")).Order(StringComparer.Ordinal).First();
        foreach (string first in new[] { "path,label", $"{daisy},daisy" })
        {
            string body = first == "path,label" ? $"path,label\r\n{daisy},daisy\r\n{iris},iris\r\n" : $"{daisy},daisy\r\n{iris},iris\r\n";
            File.WriteAllBytes(dir.File("excel.csv"), [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(body)]);

            var listed = ImageFolder.Load(dir.File("excel.csv"), 32);

            Assert.Equal(["daisy", "iris"], listed.Classes);
            Assert.Equal(2, listed.Count);
        }
    }

    [Fact]
    public void Load_ARowNamingAFolder_SaysItIsAFolder()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("images"));
        File.WriteAllText(dir.File("list.csv"), "images,daisy\n");
        var e = Assert.Throws<EfficientNetException>(() => ImageFolder.Load(dir.File("list.csv"), 32));
        Assert.Contains($"line 1: '{dir.File("images")}' is a folder, not an image", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Training_WarnsOfRepeatedRowsAndOfValidationImagesItTrainsOn()
    {
        using var dir = new TempDir();
        string[] daisies = [.. Directory.GetFiles(Path.Combine(Flowers, "train", "daisy")).Order(StringComparer.Ordinal).Take(3)];
        string[] irises = [.. Directory.GetFiles(Path.Combine(Flowers, "train", "iris")).Order(StringComparer.Ordinal).Take(3)];
        File.WriteAllLines(dir.File("train.csv"), [.. daisies.Select(p => $"{p},daisy"), .. irises.Select(p => $"{p},iris"), $"{daisies[0]},daisy"]);
        File.WriteAllLines(dir.File("val.csv"), [$"{daisies[1]},daisy", $"{irises[2]},iris", $"{Directory.GetFiles(Path.Combine(Flowers, "test", "iris")).Order(StringComparer.Ordinal).First()},iris"]);
        var options = EfficientNet.Training.Options.TrainOptions.FromRecipe(EfficientNet.Training.Options.TrainRecipe.Fast, EfficientNet.Training.Options.DatasetKind.Folder) with
        {
            Data = dir.File("train.csv"),
            ValData = dir.File("val.csv"),
            Resolution = 32,
            Images = new EfficientNet.Training.Options.ImageReading { Cache = EfficientNet.Training.Options.ImageCache.Memory },
        };
        var notes = new List<string>();

        EfficientNet.Training.Running.TrainingData.Load(options, notes.Add);

        Assert.Contains($"warning: '{dir.File("train.csv")}' lists 1 image more than once (e.g. '{daisies[0]}', 2 times); each row counts as an image of its own", notes);
        Assert.Contains($"warning: 2 of the 3 validation images in '{dir.File("val.csv")}' are also training images in '{dir.File("train.csv")}'; their accuracy overstates how the model does on images it has not seen", notes);
        notes.Clear();
        EfficientNet.Training.Running.TrainingData.Load(options with { Data = Path.Combine(Flowers, "train"), ValData = Path.Combine(Flowers, "test") }, notes.Add);
        Assert.DoesNotContain(notes, n => n.StartsWith("warning:", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_ValidationListWithAClassTrainingLacks_IsRefused()
    {
        using var dir = new TempDir();
        string daisy = Directory.GetFiles(Path.Combine(Flowers, "train", "daisy")).Order(StringComparer.Ordinal).First();
        File.WriteAllText(dir.File("val.csv"), $"{daisy},daisy\n{daisy},rose\n");

        var e = Assert.Throws<EfficientNetException>(() => ImageFolder.Load(dir.File("val.csv"), 32, ["daisy", "tulip"]));
        Assert.Equal($"'{dir.File("val.csv")}': class 'rose' is not one of the model's classes (daisy, tulip)", e.Message);
        // Labels index the training classes, which the list need not all have.
        var subset = ImageFolder.Load(dir.File("val.csv"), 32, ["daisy", "rose", "tulip"]);
        Assert.Equal([0, 1], subset.Labels);
    }

    [Fact]
    public void Folder_WebpAndBmpImages_AreLoaded()
    {
        using var dir = new TempDir();
        string daisy = Directory.GetFiles(Path.Combine(Flowers, "train", "daisy")).Order(StringComparer.Ordinal).First();
        Directory.CreateDirectory(dir.File("data/daisy"));
        using (var bitmap = SKBitmap.Decode(daisy))
        using (var image = SKImage.FromBitmap(bitmap))
        using (var webp = image.Encode(SKEncodedImageFormat.Webp, 90))
        {
            File.WriteAllBytes(dir.File("data/daisy/a.webp"), webp.ToArray());
        }
        File.WriteAllBytes(dir.File("data/daisy/b.bmp"), Bmp(40, 30));

        var data = ImageFolder.Load(dir.File("data"), 32);

        Assert.Equal(2, data.Count);
    }

    [Fact]
    public void Train_FromListFiles_RunsAndRecordsThem()
    {
        using var dir = new TempDir();
        string Rows(string split, int perClass) => string.Join('\n', new[] { "daisy", "pansy" }
            .SelectMany(c => Directory.GetFiles(Path.Combine(Flowers, split, c)).Order(StringComparer.Ordinal).Take(perClass).Select(f => $"{f},{c}")));
        File.WriteAllText(dir.File("train.csv"), Rows("train", 8));
        File.WriteAllText(dir.File("val.csv"), Rows("test", 2));

        var (exit, _, stderr) = CliRunner.Run("train", "--dataset", "folder", "--data", dir.File("train.csv"), "--val-data", dir.File("val.csv"),
            "--resolution", "32", "--epochs", "1", "--batch", "8", "--threads", "2", "--out", dir.File("run"));

        Assert.True(exit == 0, stderr);
        Assert.Contains(dir.File("train.csv"), File.ReadAllText(dir.File("run/options.json")), StringComparison.Ordinal);
    }

    // A 24-bit bottom-up BMP of a horizontal gradient.
    private static byte[] Bmp(int width, int height)
    {
        int stride = (width * 3 + 3) & ~3;
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        writer.Write((byte)'B');
        writer.Write((byte)'M');
        writer.Write(54 + stride * height);
        writer.Write(0);
        writer.Write(54);
        writer.Write(40);
        writer.Write(width);
        writer.Write(height);
        writer.Write((short)1);
        writer.Write((short)24);
        writer.Write(0);
        writer.Write(stride * height);
        writer.Write(2835);
        writer.Write(2835);
        writer.Write(0);
        writer.Write(0);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < stride; x++)
            {
                writer.Write((byte)(x < width * 3 ? x * 255 / (width * 3) : 0));
            }
        }
        return stream.ToArray();
    }
}
