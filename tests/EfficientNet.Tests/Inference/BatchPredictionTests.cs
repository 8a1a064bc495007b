using System.Text.Json;
using EfficientNet.Inference.Batch;
using EfficientNet.Inference;
using EfficientNet.Tests.Cli;

namespace EfficientNet.Tests.Inference;

/// <summary>effnet predict --images on flowers12's 240 test images: rows, shards, resume, error rows.</summary>
public class BatchPredictionTests
{
    // Another batch composition changes libtorch's float32 summation order: probabilities moved by up to 4.5e-8 on
    // AVX2 (seen), well below 1e-6; a wrong image or preprocessing moves them by far more.
    private const double BatchCompositionTolerance = 1e-6;

    private static readonly string Test = Path.Combine(TestPaths.SharedData, "flowers12", "test");

    [Fact]
    public void PredictImages_Folder_OneRowPerImageInSortedOrderAsSinglePredictions()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string output = dir.File("predictions.csv");
        var summary = CliRunner.Json("predict", "--weights", weights, "--images", Test, "--out", output, "--batch", "7", "--top", "3", "--json");
        Assert.Equal(240, summary.GetProperty("listed").GetInt32());
        Assert.Equal(240, summary.GetProperty("predicted").GetInt32());
        Assert.Equal(0, summary.GetProperty("failed").GetInt32());

        var rows = ReadCsv(output);
        Assert.Equal("path,label_1,index_1,probability_1,label_2,index_2,probability_2,label_3,index_3,probability_3,error", rows[0]);
        string[] paths = [.. rows.Skip(1).Select(r => r.Split(',')[0])];
        Assert.Equal(BatchPrediction.List(Test), paths);
        Assert.Equal(paths.Order(StringComparer.Ordinal), paths);

        // Batched rows equal one-image predictions (same decoding, resize and normalisation).
        foreach (string row in rows.Skip(1).Where((_, i) => i % 60 == 0))
        {
            string[] fields = row.Split(',');
            var single = CliRunner.Json("predict", "--weights", weights, "--image", Path.Combine(Test, fields[0]), "--top", "3", "--json").EnumerateArray().ToList();
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal(single[k].GetProperty("label").GetString(), fields[1 + 3 * k]);
                Assert.Equal(single[k].GetProperty("probability").GetDouble(), double.Parse(fields[3 + 3 * k], System.Globalization.CultureInfo.InvariantCulture), BatchCompositionTolerance);
            }
            Assert.Equal("", fields[^1]);
        }
    }

    [Fact]
    public void PredictImages_Shards_CoverTheListingOnceAndAgreeWithOneRun()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string whole = dir.File("all.jsonl");
        CliRunner.Json("predict", "--weights", weights, "--images", Test, "--out", whole, "--engine", "onnxruntime", "--json");
        var expected = ReadJsonl(whole);

        var parts = new List<string>();
        for (int k = 1; k <= 3; k++)
        {
            string part = dir.File($"part{k}.jsonl");
            var summary = CliRunner.Json("predict", "--weights", weights, "--images", Test, "--out", part, "--shard", $"{k}/3", "--engine", "onnxruntime", "--json");
            Assert.Equal(80, summary.GetProperty("inShard").GetInt32());
            parts.AddRange(ReadJsonl(part));
        }
        Assert.Equal(expected.Count, parts.Count);
        foreach (var (e, a) in expected.Zip(parts).Select(p => (JsonDocument.Parse(p.First).RootElement, JsonDocument.Parse(p.Second).RootElement)))
        {
            Assert.Equal(e.GetProperty("path").GetString(), a.GetProperty("path").GetString());
            var ep = e.GetProperty("predictions").EnumerateArray().ToList();
            var ap = a.GetProperty("predictions").EnumerateArray().ToList();
            Assert.Equal(ep.Select(x => x.GetProperty("label").GetString()), ap.Select(x => x.GetProperty("label").GetString()));
            Assert.All(ep.Zip(ap), x => Assert.Equal(x.First.GetProperty("probability").GetDouble(), x.Second.GetProperty("probability").GetDouble(), BatchCompositionTolerance));
        }
        Assert.Contains("--shard must be K/N with 1 <= K <= N", CliRunner.Fails("predict", "--weights", weights, "--images", Test, "--out", dir.File("x.csv"), "--shard", "4/3"), StringComparison.Ordinal);
    }

    [Fact]
    public void PredictImages_RerunAfterAKill_WritesEachImageOnce()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string output = dir.File("predictions.csv");
        string[] args = ["predict", "--weights", weights, "--images", Test, "--out", output, "--batch", "32", "--json"];
        CliRunner.Json(args);
        var complete = ReadCsv(output);

        // As a kill mid-write leaves it: 100 complete rows and half of the next.
        string cut = string.Join('\n', complete.Take(101)) + "\n" + complete[101][..20];
        File.WriteAllText(output, cut);
        var resumed = CliRunner.Json(args);
        Assert.Equal(100, resumed.GetProperty("alreadyWritten").GetInt32());
        Assert.Equal(140, resumed.GetProperty("predicted").GetInt32());
        AssertSameRows(complete, ReadCsv(output));

        var again = CliRunner.Json(args);
        Assert.Equal(240, again.GetProperty("alreadyWritten").GetInt32());
        Assert.Equal(0, again.GetProperty("predicted").GetInt32());
        AssertSameRows(complete, ReadCsv(output));
        Assert.Contains("resume it with the same --top", CliRunner.Fails([.. args, "--top", "2"]), StringComparison.Ordinal);
    }

    [Fact]
    public void PredictImages_ListWithMissingAndBrokenFiles_GetsErrorRowsAndGoesOn()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string[] flowers = [.. BatchPrediction.List(Test).Take(5).Select(p => Path.Combine(Test, p))];
        File.WriteAllText(dir.File("broken.jpg"), "not a jpeg");
        File.WriteAllLines(dir.File("list.txt"), [.. flowers, "missing.jpg", "broken.jpg", "# a comment", "", "gone/also-missing.png"]);
        string output = dir.File("predictions.jsonl");

        var (exit, stdout, stderr) = CliRunner.Run("predict", "--weights", weights, "--images", dir.File("list.txt"), "--out", output);
        // Every row written, then a non-zero exit, so that scripts see the failures; --allow-failures makes it 0.
        Assert.Equal(EfficientNet.Cli.EffnetCli.UserError, exit);
        Assert.Contains($"effnet: error: 3 of 8 images could not be read; their rows in {output} hold why", stderr, StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run("predict", "--weights", weights, "--images", dir.File("list.txt"), "--out", output, "--allow-failures").Exit);
        Assert.Contains("5 images classified, 3 failed", stdout, StringComparison.Ordinal);
        Assert.Contains($"failed: missing.jpg: image not found: '{dir.File("missing.jpg")}'", stdout, StringComparison.Ordinal);
        Assert.Contains("failed: gone/also-missing.png: image not found", stdout, StringComparison.Ordinal);
        Assert.Contains("failed: broken.jpg: ", stdout, StringComparison.Ordinal);

        var rows = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(8, rows.Count);
        var errors = rows.Where(r => r.GetProperty("error").ValueKind == JsonValueKind.String).ToList();
        Assert.Equal(["broken.jpg", "gone/also-missing.png", "missing.jpg"], errors.Select(r => r.GetProperty("path").GetString()).Order(StringComparer.Ordinal));
        Assert.All(errors, r => Assert.Equal(0, r.GetProperty("predictions").GetArrayLength()));
        Assert.All(rows.Except(errors), r => Assert.Equal(5, r.GetProperty("predictions").GetArrayLength()));
    }

    [Fact]
    public void PredictImages_CsvOfNamesWithLineBreaksAndQuotes_ResumesWithoutDuplicates()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string images = dir.File("images");
        Directory.CreateDirectory(images);
        string[] names = ["=formula.jpg", "carriage\rreturn.jpg", "comma,quote\".jpg", "line\nbreak.jpg", "plain.jpg"];
        string[] flowers = [.. BatchPrediction.List(Test).Take(names.Length)];
        foreach (var (name, flower) in names.Zip(flowers))
        {
            File.Copy(Path.Combine(Test, flower), Path.Combine(images, name));
        }
        string output = dir.File("predictions.csv");
        string[] args = ["predict", "--weights", weights, "--images", images, "--out", output, "--json"];
        Assert.Equal(5, CliRunner.Json(args).GetProperty("predicted").GetInt32());
        string written = File.ReadAllText(output);
        Assert.Equal(names, CsvPaths(output));

        var again = CliRunner.Json(args);
        Assert.Equal(5, again.GetProperty("alreadyWritten").GetInt32());
        Assert.Equal(0, again.GetProperty("predicted").GetInt32());
        Assert.Equal(written, File.ReadAllText(output));

        // Killed inside the quoted line break of row 4: rows 4 and 5 are predicted again, once each.
        File.WriteAllText(output, written[..(written.IndexOf("line\nbreak", StringComparison.Ordinal) + "line\n".Length)]);
        var resumed = CliRunner.Json(args);
        Assert.Equal(3, resumed.GetProperty("alreadyWritten").GetInt32());
        Assert.Equal(2, resumed.GetProperty("predicted").GetInt32());
        Assert.Equal(names, CsvPaths(output));
    }

    [Fact]
    public void PredictImages_NameThatIsNotUtf8_IsReportedAsSuch()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string images = dir.File("images");
        Directory.CreateDirectory(images);
        string flower = Path.Combine(Test, BatchPrediction.List(Test)[0]);
        File.Copy(flower, Path.Combine(images, "good.jpg"));
        // A Latin-1 name (0xE9 alone is not UTF-8), made by Python, which hands the kernel bytes.
        PythonScript.Run("import os, shutil, sys; shutil.copy(sys.argv[1], os.fsencode(sys.argv[2]) + b'/caf\\xe9.jpg')", flower, images);
        try
        {
            var summary = CliRunner.Json("predict", "--weights", weights, "--images", images, "--out", dir.File("p.jsonl"), "--allow-failures", "--json");

            Assert.Equal(1, summary.GetProperty("failed").GetInt32());
            string error = Assert.Single(summary.GetProperty("failures").EnumerateArray()).GetProperty("error").GetString()!;
            Assert.Contains("U+FFFD in a name read from disk stands for bytes that are not UTF-8, and .NET cannot open such a name; rename the file", error, StringComparison.Ordinal);
        }
        finally
        {
            // .NET cannot delete it either.
            PythonScript.Run("import os, sys; os.remove(os.fsencode(sys.argv[1]) + b'/caf\\xe9.jpg')", images);
        }
    }

    private static string[] CsvPaths(string csv)
    {
        using var stream = File.OpenRead(csv);
        return [.. EfficientNet.IO.Csv.Records(stream).Skip(1).Select(r => r.Fields[0])];
    }

    [Fact]
    public void List_Folder_KeepsLinkedFiles_ButNotLinkedFoldersOrPipes()
    {
        using var dir = new TempDir();
        string root = dir.File("images");
        Directory.CreateDirectory(Path.Combine(root, "sub"));
        string[] flowers = [.. BatchPrediction.List(Test).Take(3).Select(p => Path.Combine(Test, p))];
        File.Copy(flowers[0], Path.Combine(root, "a.jpg"));
        File.Copy(flowers[1], Path.Combine(root, "sub", "b.jpg"));
        File.CreateSymbolicLink(Path.Combine(root, "linked.jpg"), flowers[2]);
        // A link to a parent repeats the folder in itself; a link to / walks the whole file system.
        Directory.CreateSymbolicLink(Path.Combine(root, "up"), dir.Path);
        Directory.CreateSymbolicLink(Path.Combine(root, "everything"), "/");
        TestProcess.Run("mkfifo", [Path.Combine(root, "pipe.jpg")]);

        Assert.Equal(["a.jpg", "linked.jpg", "sub/b.jpg"], BatchPrediction.List(root));
    }

    [Theory]
    [InlineData("pass either --image FILE or --images", "--image", "x.jpg", "--images", "dir")]
    [InlineData("--images needs --out", "--images", "dir")]
    [InlineData("--out, --shard and --allow-failures go with --images", "--image", "x.jpg", "--out", "p.csv")]
    [InlineData("--out, --shard and --allow-failures go with --images", "--image", "x.jpg", "--allow-failures")]
    [InlineData("a prediction file must end in .csv or .jsonl", "--images", "dir", "--out", "p.txt")]
    [InlineData("the folder '/nonexistent' does not exist", "--images", "dir", "--out", "/nonexistent/p.csv")]
    public void PredictImages_BadOptions_FailBeforeLoading(string expected, params string[] args) =>
        Assert.Contains(expected, CliRunner.Fails(["predict", "--weights", "/nonexistent.safetensors", .. args]), StringComparison.Ordinal);

    [Fact]
    public void PredictImages_UnwritableOutOrMissingImages_FailClearly()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        Assert.Contains("cannot write '/sys/p.csv'", CliRunner.Fails("predict", "--weights", weights, "--images", Test, "--out", "/sys/p.csv"), StringComparison.Ordinal);
        Assert.Contains("is neither a folder nor a list file", CliRunner.Fails("predict", "--weights", weights, "--images", dir.File("none"), "--out", dir.File("p.csv")), StringComparison.Ordinal);
        Directory.CreateDirectory(dir.File("empty"));
        Assert.Contains("no images (.jpg", CliRunner.Fails("predict", "--weights", weights, "--images", dir.File("empty"), "--out", dir.File("p.csv")), StringComparison.Ordinal);
    }

    [Fact]
    public void Shard_Parts_AreContiguousAndCoverEverything()
    {
        int[] items = [.. Enumerable.Range(0, 10)];
        var parts = Enumerable.Range(1, 4).Select(k => new Shard(k, 4).Of(items)).ToList();
        Assert.Equal(items, parts.SelectMany(p => p));
        Assert.Equal([2, 3, 2, 3], parts.Select(p => p.Count));
        Assert.Equal(new Shard(2, 5), Shard.Parse("2/5"));
        Assert.Throws<EfficientNetException>(() => Shard.Parse("0/3"));
        Assert.Throws<EfficientNetException>(() => Shard.Parse("1/0"));
        Assert.Throws<EfficientNetException>(() => Shard.Parse("a/b"));
    }

    // Same images, classes and errors; probabilities equal up to the rounding of another batch composition.
    private static void AssertSameRows(List<string> expected, List<string> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        foreach (var (e, a) in expected.Zip(actual).Skip(1))
        {
            string[] ef = e.Split(','), af = a.Split(',');
            Assert.Equal(ef.Where((_, i) => i % 3 != 0 || i == 0), af.Where((_, i) => i % 3 != 0 || i == 0));
            for (int i = 3; i < ef.Length - 1; i += 3)
            {
                Assert.Equal(double.Parse(ef[i], System.Globalization.CultureInfo.InvariantCulture), double.Parse(af[i], System.Globalization.CultureInfo.InvariantCulture), BatchCompositionTolerance);
            }
        }
    }

    private static List<string> ReadCsv(string path) => [.. File.ReadAllText(path).Split('\n', StringSplitOptions.RemoveEmptyEntries)];

    private static List<string> ReadJsonl(string path) => [.. File.ReadAllLines(path)];
}
