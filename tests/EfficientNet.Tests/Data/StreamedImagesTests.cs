using EfficientNet.Data.Augmentation;
using EfficientNet.Data;
using EfficientNet.Imaging;
using EfficientNet.Tests.Cli;
using EfficientNet.Tests.Training;
using EfficientNet.Training.Options;
using EfficientNet.Training.Reporting;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Data;

/// <summary>Image folders and lists read from their files per batch: the same images as in memory, seeded crops, flat memory.</summary>
public class StreamedImagesTests
{
    private static readonly string Flowers = Path.Combine(TestPaths.SharedData, "flowers12");

    [Fact]
    public void Stream_CentreCrop_GivesTheBytesOfTheFolderInMemory()
    {
        string test = Path.Combine(Flowers, "test");
        var memory = ImageFolder.Load(test, 40);
        var streamed = ImageFolder.Stream(test, 40, null, SampleGeometry.CentreCrop, workers: 2);
        Assert.True(streamed.IsStreamed);
        Assert.Equal(memory.Classes, streamed.Classes);
        Assert.Equal(memory.Labels, streamed.Labels);

        int[] some = [239, 0, 17, 120, 5];
        var (a, la) = memory.Batch(some);
        var (b, lb) = streamed.Batch(some);
        TensorAssert.Identical(a, b);
        TensorAssert.Identical(la, lb);
        // A subset (a validation share, a split) is the same images.
        var (c, _) = streamed.Subset([17, 120]).Batch([1, 0]);
        var (d, _) = memory.Batch([120, 17]);
        TensorAssert.Identical(d, c);
    }

    [Fact]
    public void RandomResizedCropBox_StaysInsideWithinTheBounds_AndFallsBackToTheCentre()
    {
        var random = new Random(5);
        foreach (var (width, height) in new[] { (500, 375), (375, 500), (64, 64), (1000, 40) })
        {
            for (int i = 0; i < 2000; i++)
            {
                var (left, top, w, h) = RandomResizedCrop.Box(width, height, random);
                Assert.InRange(left, 0, width - w);
                Assert.InRange(top, 0, height - h);
                Assert.InRange(w, 1, width);
                Assert.InRange(h, 1, height);
                if ((left, top, w, h) == RandomResizedCrop.Fallback(width, height))
                {
                    continue;
                }
                // Rounding each side to whole pixels moves the area and ratio by at most half a pixel per side.
                double area = (double)w * h / (width * height);
                double slack = 0.5 * (w + h + 0.5) / (width * height);
                Assert.InRange(area, RandomResizedCrop.MinScale - slack, RandomResizedCrop.MaxScale + slack);
                Assert.InRange((double)w / h, (RandomResizedCrop.MinRatio * h - 0.5) / (h + 0.5), (RandomResizedCrop.MaxRatio * h + 0.5) / (h - 0.5));
            }
        }
        // A 25:1 strip never fits a 4:3 box of at least 8% of its area: every draw fails, and the fallback is the
        // centred 4:3 box of full height.
        Assert.Equal((473, 0, 53, 40), RandomResizedCrop.Box(1000, 40, new Random(1)));
        Assert.Equal((0, 0, 400, 300), RandomResizedCrop.Fallback(400, 300));
        Assert.Equal((0, 25, 300, 400), RandomResizedCrop.Fallback(300, 450));
    }

    [Fact]
    public void RandomResizedCrops_AreSeededPerImage_WhateverTheWorkersOrTheBatch()
    {
        string test = Path.Combine(Flowers, "test");
        var one = ImageFolder.Stream(test, 48, null, SampleGeometry.RandomResizedCrop, workers: 1);
        var four = ImageFolder.Stream(test, 48, null, SampleGeometry.RandomResizedCrop, workers: 4);
        int[] images = [3, 200, 77, 150];
        int[] seeds = DataLoader.SampleSeeds(7, 2, images);

        var (a, _) = one.Batch(images, seeds);
        var (b, _) = four.Batch(images, seeds);
        TensorAssert.Identical(a, b);
        // Image 77 in another batch of the same epoch is the same crop; in another epoch it is another one.
        var (alone, _) = four.Batch([77], DataLoader.SampleSeeds(7, 2, [77]));
        TensorAssert.Identical(a[2], alone[0]);
        var (later, _) = four.Batch([77], DataLoader.SampleSeeds(7, 3, [77]));
        Assert.False(a[2].equal(later[0]).all().item<bool>(), "the next epoch draws another crop");
        var (centre, _) = ImageFolder.Stream(test, 48, null, SampleGeometry.CentreCrop, 1).Batch([77]);
        Assert.False(alone[0].equal(centre[0]).all().item<bool>(), "a random-resized crop differs from the centre square");
    }

    [Fact]
    public void Stream_FiftyThousandRowList_HoldsNoPixels()
    {
        // The memory a streamed set holds is its list, not its images: 50,000 rows at 224x224 would be 7 GB decoded.
        using var dir = new TempDir();
        string[] photos = [.. Directory.GetFiles(Path.Combine(Flowers, "train", "daisy")).Order(StringComparer.Ordinal)];
        File.WriteAllLines(dir.File("big.csv"), Enumerable.Range(0, 50_000).Select(i => $"{photos[i % photos.Length]},{(i % 2 == 0 ? "even" : "odd")}"));
        long before = GC.GetAllocatedBytesForCurrentThread();

        var data = ImageFolder.Stream(dir.File("big.csv"), 224, null, SampleGeometry.RandomResizedCrop, 2);
        var (images, _) = data.Batch([0, 49_999], DataLoader.SampleSeeds(1, 0, [0, 49_999]));

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(50_000, data.Count);
        Assert.Equal([2L, 3, 224, 224], images.shape);
        Assert.True(allocated < 200L << 20, $"{allocated >> 20} MiB allocated to list 50,000 rows and read 2 images");
    }

    [Theory]
    [InlineData(1L << 40, true)]
    [InlineData(1L << 20, false)]
    public void Auto_KeepsInMemoryWhatFitsInHalfTheMemory_AndSaysSo(long available, bool memory)
    {
        var options = new TrainOptions { Dataset = DatasetKind.Folder, Data = Path.Combine(Flowers, "train"), ValData = Path.Combine(Flowers, "test") };
        var train = ImageFolder.Entries(options.Data, null);
        long count = train.Images.Count + ImageFolder.Entries(options.ValData, train.Classes).Images.Count;
        var notes = new List<string>();

        Assert.Equal(memory, TrainingData.InMemory(options, count, 64, available, notes.Add));

        // 960 images of 3x64x64 bytes: 11.25 MiB.
        Assert.StartsWith($"960 images at 64x64 take 0.01 GiB decoded, {(memory ? "within" : "more than")} 50% of the ", Assert.Single(notes), StringComparison.Ordinal);
        Assert.False(TrainingData.InMemory(options with { Images = new ImageReading { Cache = ImageCache.None } }, count, 64, 1L << 40, null));
        Assert.True(TrainingData.InMemory(options with { Images = new ImageReading { Cache = ImageCache.Memory } }, count, 64, 1, null));
        Assert.False(TrainingData.InMemory(options with { Images = new ImageReading { RandomResizedCrop = true } }, count, 64, 1L << 40, null));
    }

    [Theory]
    [InlineData(ImageCache.Auto, 128, true)]
    [InlineData(ImageCache.None, 224, true)]
    [InlineData(ImageCache.Auto, 96, false)]
    [InlineData(ImageCache.Memory, 224, false)]
    public void TheCrop_IsDecidedByTheOptionsAlone_NotByTheMemoryAvailable(ImageCache cache, int resolution, bool randomResizedCrops)
    {
        // It used to be: at 128 px and up, a set that fit in memory trained on centre squares and one that did not on
        // random-resized crops, and options.json said null either way.
        var options = Trainer.Resolve(new TrainOptions { Dataset = DatasetKind.Folder, Data = Path.Combine(Flowers, "train"), Resolution = resolution, Images = new ImageReading { Cache = cache } });
        Assert.Equal(randomResizedCrops, options.Images.RandomResizedCrop);
        foreach (long available in new[] { 1L << 20, 1L << 40 })
        {
            bool inMemory = TrainingData.InMemory(options, 960, resolution, available, null);
            Assert.False(randomResizedCrops && inMemory, $"{available} bytes available: random-resized crops need the images streamed");
            Assert.Equal(cache == ImageCache.Memory || (cache == ImageCache.Auto && !randomResizedCrops && available == 1L << 40), inMemory);
        }
    }

    [Fact]
    public void Train_Streamed_ResumesExactlyAsAnUninterruptedRun()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("train.csv"), new[] { "daisy", "pansy", "iris" }
            .SelectMany(c => Directory.GetFiles(Path.Combine(Flowers, "train", c)).Order(StringComparer.Ordinal).Take(8).Select(f => $"{f},{c}")));
        var options = new TrainOptions
        {
            Dataset = DatasetKind.Folder,
            Data = dir.File("train.csv"),
            ValFraction = 0.25,
            Resolution = 32,
            Epochs = 2,
            BatchSize = 6,
            LearningRate = 0.002,
            WarmupEpochs = 0.5,
            Seed = 3,
            Threads = 2,
            Images = new ImageReading { Cache = ImageCache.None, RandomResizedCrop = true, Workers = 2 },
        };
        var straight = Trainer.Train(options, dir.File("straight"));
        using var cancel = new CancellationTokenSource();
        var interrupted = Trainer.Train(options with { Images = options.Images with { Workers = 1 } }, dir.File("resumed"), new CancelAt(epoch: 2, batch: 1, cancel), cancel.Token);
        Assert.True(interrupted.Interrupted);
        var resumed = Trainer.Resume(dir.File("resumed"));

        Assert.Equal(straight.History.Select(h => (h.TrainLoss, h.ValLoss, h.ValAccuracy)), resumed.History.Select(h => (h.TrainLoss, h.ValLoss, h.ValAccuracy)));
        using var a = WeightsFile.Read(straight.LastCheckpointPath);
        using var b = WeightsFile.Read(resumed.LastCheckpointPath);
        foreach (var (key, tensor) in a.Tensors.Where(kv => !kv.Key.StartsWith("trainer.rng", StringComparison.Ordinal)))
        {
            TensorAssert.Identical(tensor, b.Tensors[key]);
        }
    }

    [Fact]
    public void TrainAndFinetune_StreamedFolder_FromTheCli()
    {
        using var dir = new TempDir();
        string data = dir.File("data");
        foreach (string flower in new[] { "daisy", "pansy" })
        {
            Directory.CreateDirectory(Path.Combine(data, flower));
            foreach (string file in Directory.GetFiles(Path.Combine(Flowers, "train", flower)).Order(StringComparer.Ordinal).Take(6))
            {
                File.Copy(file, Path.Combine(data, flower, Path.GetFileName(file)));
            }
        }
        // Without --dataset, a folder that holds no CIFAR-10 batches is read as an image folder.
        var (exit, stdout, stderr) = CliRunner.Run("train", "--data", data, "--val-fraction", "0.34", "--image-cache", "none",
            "--resolution", "128", "--epochs", "1", "--batch", "4", "--max-batches", "1", "--threads", "2", "--out", dir.File("run"));
        Assert.True(exit == 0, stderr);
        Assert.Contains("\"dataset\": \"Folder\"", File.ReadAllText(dir.File("run/options.json")), StringComparison.Ordinal);
        Assert.Contains("training images: random-resized crops of the full photo", stdout, StringComparison.Ordinal);
        Assert.Contains("\"cache\": \"None\"", File.ReadAllText(dir.File("run/options.json")), StringComparison.Ordinal);

        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        (exit, _, stderr) = CliRunner.Run("finetune", "--weights", weights, "--data", data, "--val-fraction", "0.34", "--image-cache", "none", "--cache-features",
            "--resolution", "64", "--phase1-epochs", "1", "--unfreeze", "3", "--phase2-epochs", "1", "--batch", "4", "--threads", "2", "--out", dir.File("finetune"));
        Assert.True(exit == 0, stderr);

        // A photo that breaks mid-epoch is named, and the run stops with an error (batches of 1: every image is read; at
        // 64 pixels the last feature map is 2x2, so BatchNorm has more than one value per channel to normalise).
        File.WriteAllText(Path.Combine(data, "pansy", "zz-broken.jpg"), "not a jpeg");
        (exit, _, stderr) = CliRunner.Run("train", "--dataset", "folder", "--data", data, "--val-fraction", "0.34", "--image-cache", "none",
            "--resolution", "64", "--epochs", "1", "--batch", "1", "--lr", "0.001", "--threads", "2", "--out", dir.File("broken"));
        Assert.Equal(EfficientNet.Cli.EffnetCli.UserError, exit);
        Assert.Contains("zz-broken.jpg", stderr, StringComparison.Ordinal);

        // Resumed with --skip-bad-images, it goes on past the photo, lists it and counts it in the epoch's history row.
        var (resumed, output, error) = CliRunner.Run("train", "--resume", dir.File("broken"), "--skip-bad-images");
        Assert.True(resumed == 0, error);
        Assert.Contains("epoch 1: 1 unreadable image skipped, each replaced by the next image of its list", output, StringComparison.Ordinal);
        Assert.Equal(1, Assert.Single(HistoryCsv.Read(dir.File("broken/history.csv"))).BadImages);
        var row = Assert.Single(File.ReadAllLines(dir.File("broken/bad-images.csv")).Skip(1));
        Assert.Matches("^1,(training|validation),.*zz-broken.jpg,\".*not an image SkiaSharp can decode", row);

        // Decoded into memory, the set leaves the photo out from the start, and every epoch's row counts it: the epoch
        // trained and validated without it.
        (exit, _, stderr) = CliRunner.Run("train", "--dataset", "folder", "--data", data, "--val-fraction", "0.34", "--image-cache", "memory", "--skip-bad-images",
            "--resolution", "64", "--epochs", "2", "--batch", "4", "--max-batches", "1", "--threads", "2", "--out", dir.File("memory"));
        Assert.True(exit == 0, stderr);
        Assert.Equal([1, 1], HistoryCsv.Read(dir.File("memory/history.csv")).Select(r => r.BadImages));
    }

    [Fact]
    public void SkipBadImages_ReplacesAStreamedOneByTheNextInTheList_AndLeavesOneOutOfASetInMemory()
    {
        using var dir = new TempDir();
        string[] photos = [.. Directory.GetFiles(Path.Combine(Flowers, "test", "daisy")).Order(StringComparer.Ordinal).Take(2)];
        File.WriteAllText(dir.File("broken.jpg"), "not a jpeg");
        File.WriteAllLines(dir.File("list.csv"), [$"{photos[0]},daisy", $"{dir.File("broken.jpg")},rose", $"{photos[1]},tulip"]);
        var met = new List<string>();
        var streamed = ImageFolder.Stream(dir.File("list.csv"), 32, null, SampleGeometry.CentreCrop, 1);

        var (images, labels) = streamed.Skipping((path, _) => met.Add(path)).Batch([1, 0]);

        // The broken rose is replaced by the next image, the tulip, with its label.
        var (tulip, tulipLabel) = streamed.Batch([2]);
        TensorAssert.Identical(tulip[0], images[0]);
        Assert.Equal([tulipLabel[0].item<long>(), 0L], labels.data<long>().ToArray());
        Assert.Equal([dir.File("broken.jpg")], met);
        Assert.Contains("broken.jpg", Assert.Throws<EfficientNetException>(() => streamed.Batch([1])).Message, StringComparison.Ordinal);

        var entries = ImageFolder.Entries(dir.File("list.csv"), null);
        var memory = ImageFolder.Decode("list", entries, 32, skip: (path, _) => met.Add(path));
        Assert.Equal(2, memory.Count);
        Assert.Equal([0, 2], memory.Labels);
        Assert.Equal(2, met.Count);

        // The run folder's list: an image met again in the same epoch and set is listed once; a damaged list is named.
        string log = dir.File("bad-images.csv");
        var broken = new BadImage("training", dir.File("broken.jpg"), "not an image");
        Assert.Equal(1, BadImageLog.Append(log, 2, [broken, broken]));
        Assert.Equal(1, BadImageLog.Append(log, 2, [broken]));
        Assert.Equal(0, BadImageLog.Append(log, 3, []));
        File.AppendAllText(log, "two,training,x.jpg,gone\n");
        Assert.StartsWith($"'{log}' line 3 is not an epoch,split,path,reason row", Assert.Throws<EfficientNetException>(() => BadImageLog.Append(log, 3, [])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BenchData_ReportsWhatItRan()
    {
        var json = CliRunner.Json("bench", "data", "--data", Path.Combine(Flowers, "test"), "--resolution", "64", "--batch", "8", "--seconds", "0.5", "--workers", "2", "--json");

        Assert.Equal(2, json.GetProperty("workers").GetInt32());
        Assert.Equal(64, json.GetProperty("resolution").GetInt32());
        int images = json.GetProperty("images").GetInt32();
        Assert.True(images >= 8 && images % 8 == 0, $"{images} images: whole batches of 8, at least one");
        Assert.Equal(images / json.GetProperty("seconds").GetDouble(), json.GetProperty("imagesPerSecond").GetDouble(), 1e-9);
        string test = Path.Combine(Flowers, "test");
        Assert.Contains("between 32 and 4096 pixels, got 100000", CliRunner.Fails("bench", "data", "--data", test, "--resolution", "100000"), StringComparison.Ordinal);
        Assert.Contains("--workers 0 (one per core) or positive, got 0.5 and -1", CliRunner.Fails("bench", "data", "--data", test, "--seconds", "0.5", "--workers", "-1"), StringComparison.Ordinal);
        Assert.Contains("image folder not found", CliRunner.Fails("bench", "data", "--data", "/nonexistent"), StringComparison.Ordinal);
    }
}
