using System.Diagnostics;
using EfficientNet.Cli;
using EfficientNet.Models;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Cli;

public class TrainCliTests
{
    private static readonly string Cifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    [Theory]
    [InlineData("--batch must be positive, got 0", "--batch", "0")]
    [InlineData("--epochs must be positive, got 0", "--epochs", "0")]
    [InlineData("--val-fraction must be between 0 and 1", "--val-fraction", "1.5")]
    [InlineData("--threads must be 0 (the default) or positive, got -1", "--threads", "-1")]
    [InlineData("--resolution must be between 32 and 4096 pixels, got 0", "--resolution", "0")]
    [InlineData("--resolution must be between 32 and 4096 pixels, got 100000", "--resolution", "100000")]
    public void Train_BadOption_OneLineError(string expected, string option, string value)
    {
        using var dir = new TempDir();
        Assert.Contains(expected, CliRunner.Fails("train", "--data", Cifar, "--out", dir.File("run"), option, value), StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.File("run")), "no run folder for rejected options");
    }

    [Fact]
    public void Train_FastRecipeIsTheDefault_OptionsGivenBesideItWin_KerasIsOneFlagAway()
    {
        using var dir = new TempDir();
        string[] quick = ["--epochs", "1", "--max-batches", "1", "--batch", "16", "--train-limit", "32", "--val-fraction", "0.002", "--threads", "2", "--data", Cifar];
        string run = dir.File("run");
        var (exit, output, err) = CliRunner.Run(["train", "--lr", "0.05", "--cutout", "8", .. quick, "--out", run]);
        Assert.True(exit == 0, err);
        // The run ends with how long it took and where its files are.
        Assert.Matches(@"done: 1 epoch in \d+:\d\d\n  best epoch      1, validation accuracy", output.ReplaceLineEndings("\n"));
        Assert.Contains($"  final model     {Path.Combine(run, RunFiles.Final)}", output, StringComparison.Ordinal);
        // TensorBoard's events file holds the epoch's history row and the step's running loss. Tolerance 1e-6: history.csv
        // rounds to 6 decimals (5e-7), the event holds a 32-bit float (2.3 to within 1.2e-7).
        var (version, scalars) = EfficientNet.Tests.Training.TensorBoardEvents.Read(Assert.Single(Directory.GetFiles(run, "events.out.tfevents.*")));
        Assert.StartsWith("brain.Event:", version, StringComparison.Ordinal);
        var epoch = Assert.Single(HistoryCsv.Read(Path.Combine(run, RunFiles.History)));
        double At(string tag) => Assert.Single(scalars, s => s.Tag == tag && s.Step == 1).Value;
        Assert.Equal(epoch.ValAccuracy, At("epoch/val_accuracy"), 1e-6);
        Assert.Equal(epoch.TrainLoss, At("epoch/train_loss"), 1e-6);
        Assert.Equal(epoch.TrainLoss, At("step/train_loss"), 1e-6);
        Assert.Equal(epoch.LearningRate, At("epoch/learning_rate"), 1e-6);
        Assert.Equal(["epoch/learning_rate", "epoch/train_accuracy", "epoch/train_loss", "epoch/val_accuracy", "epoch/val_loss", "step/learning_rate", "step/train_loss"],
            scalars.Select(s => s.Tag).Distinct().Order(StringComparer.Ordinal));
        var saved = ReadOptions(run);
        var fast = TrainOptions.FromRecipe(TrainRecipe.Fast, DatasetKind.Cifar10);
        Assert.Equal((0.05, 8, 1, 48), (saved.LearningRate, saved.Augmentation.Cutout, saved.Epochs, saved.Resolution));
        // The recipe's 2 warm-up epochs fit a 1-epoch run as a tenth of it (1 / 10.0 is the double nearest 0.1, as the literal is).
        Assert.Equal(0.1, saved.WarmupEpochs);
        Assert.Equal(
            (fast.Optimizer, fast.Nesterov, fast.WeightDecay, fast.Schedule, fast.EmaDecay, fast.RestoreBestWeights, fast.StochasticDepth, fast.Augmentation.CropPadding, fast.Augmentation.Rotation),
            (saved.Optimizer, saved.Nesterov, saved.WeightDecay, saved.Schedule, saved.EmaDecay, saved.RestoreBestWeights, saved.StochasticDepth, saved.Augmentation.CropPadding, saved.Augmentation.Rotation));

        string keras = dir.File("keras");
        (exit, _, err) = CliRunner.Run(["train", "--recipe", "keras", .. quick, "--out", keras]);
        Assert.True(exit == 0, err);
        var defaults = ReadOptions(keras);
        Assert.Equal((OptimizerKind.Adam, 0.002, ScheduleKind.Cosine, 0.0, 32, new TrainOptions().Augmentation),
            (defaults.Optimizer, defaults.LearningRate, defaults.Schedule, defaults.EmaDecay, defaults.Resolution, defaults.Augmentation));
    }

    private static readonly string CommittedModel = Path.Combine(TestPaths.RepoRoot, "models", "cifar10-b0.safetensors");

    private static readonly string[] QuickFlowers =
        ["--data", Path.Combine(TestPaths.SharedData, "flowers12", "train"), "--train-limit", "24", "--val-fraction", "0.05", "--batch", "12", "--epochs", "1", "--max-batches", "1", "--threads", "2"];

    [Fact]
    public void Train_InitialWeightsWithANewHead_StartsFromTheWeightsAndRecordsWhatTrains()
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        var (exit, _, err) = CliRunner.Run(["train", "--initial-weights", CommittedModel, "--replace-head", "--head", "mlp", "--optimizer", "sgd", "--lr", "1e-9", .. QuickFlowers, "--out", run]);
        Assert.True(exit == 0, err);

        var saved = ReadOptions(run);
        // Variant, stem and resolution come from the checkpoint, and so does the stochastic depth its model keeps (the fast recipe's 0).
        Assert.Equal((CommittedModel, true, HeadKind.Mlp, "b0", true, 48, 0.0),
            (saved.InitialWeights, saved.ReplaceHead, saved.Head, saved.Variant, saved.CifarStem, saved.Resolution, saved.StochasticDepth));
        using var final = ModelLoader.Load(Path.Combine(run, RunFiles.Final));
        Assert.Equal((HeadKind.Mlp, 12), (final.Model.Options.Head, final.Model.NumClasses));
        // One step at a learning rate of 1e-9 moves a weight by about 1e-9 of its size; a random initialisation would differ
        // from the checkpoint's by about 100%. Tolerance 1e-5 of the tensor's size separates the two by far.
        using var committed = WeightsFile.Read(CommittedModel);
        using var trained = WeightsFile.Read(Path.Combine(run, RunFiles.Final));
        foreach (string key in new[] { "features.0.0.weight", "features.8.0.weight" })
        {
            Assert.True(TensorAssert.RelativeError(committed.Tensors[key], trained.Tensors[key]) < 1e-5, key);
        }
    }

    [Theory]
    [InlineData("--dropout would have no effect: a model started from --initial-weights keeps their classifier unless --replace-head trains a new one", "--initial-weights", "MODEL", "--dropout", "0.3")]
    [InlineData("--head would have no effect: a model started from --initial-weights keeps their classifier", "--initial-weights", "MODEL", "--head", "mlp")]
    [InlineData("--stochastic-depth would have no effect: a model started from --initial-weights keeps their stochastic depth", "--initial-weights", "MODEL", "--replace-head", "--dropout", "0.3", "--stochastic-depth", "0.1")]
    [InlineData("--dropout would have no effect: the mlp head has its own dropouts (0.3 and 0.2)", "--head", "mlp", "--dropout", "0.3")]
    [InlineData("--replace-head needs --initial-weights", "--replace-head")]
    public void Train_ModelOptionsThatWouldChangeNothing_AreRefusedBeforeTheRunStarts(string expected, params string[] options)
    {
        using var dir = new TempDir();
        string[] args = ["train", .. options.Select(o => o == "MODEL" ? CommittedModel : o), .. QuickFlowers, "--out", dir.File("run")];
        Assert.Contains(expected, CliRunner.Fails(args), StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.File("run")), "no run folder for rejected options");
    }

    [Fact]
    public void Train_InitialWeightsOfOtherClasses_SaysToReplaceTheHead()
    {
        using var dir = new TempDir();
        Assert.Contains($"'{CommittedModel}' has 10 classes, not 12; skip its classifier (--replace-head) to get a new 12-class head",
            CliRunner.Fails(["train", "--initial-weights", CommittedModel, .. QuickFlowers, "--out", dir.File("run")]), StringComparison.Ordinal);
    }

    private static TrainOptions ReadOptions(string run) =>
        System.Text.Json.JsonSerializer.Deserialize<TrainOptions>(File.ReadAllText(Path.Combine(run, RunFiles.Options)), Trainer.OptionsJson)!;

    [Fact]
    public void Train_CorruptCifarFile_NamesIt()
    {
        using var dir = Data.Cifar10Tests.FakeCifar(records: 2);
        File.WriteAllBytes(dir.File("data_batch_2.bin"), new byte[100]);
        string line = CliRunner.Fails("train", "--data", dir.Path, "--out", dir.File("run"));
        Assert.Contains("data_batch_2.bin", line, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingData_IsReportedAsMissing_NotAsTheDefaultDatasetKind()
    {
        // Without --dataset there is nothing to tell CIFAR-10 from an image folder by: the message names the path and
        // what it could have been, for train, evaluate and finetune alike.
        using var dir = new TempDir();
        string missing = dir.File("photos/train");
        foreach (string[] args in new[]
        {
            new[] { "train", "--data", missing, "--out", dir.File("run") },
            ["evaluate", "--checkpoint", Path.Combine(TestPaths.RepoRoot, "models", "cifar10-b0.safetensors"), "--data", missing],
        })
        {
            string line = CliRunner.Fails(args);
            Assert.Contains($"--data '{missing}' not found: pass a CIFAR-10 folder", line, StringComparison.Ordinal);
            Assert.DoesNotContain("CIFAR-10 folder not found", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Resume_EmptyFolder_OneLineError()
    {
        using var dir = new TempDir();
        Assert.Contains("it is not a run folder", CliRunner.Fails("train", "--resume", dir.Path), StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_MissingTestSplit_OneLineError()
    {
        using var dir = new TempDir();
        Trainer.Train(new TrainOptions { Data = Cifar, Epochs = 1, BatchSize = 16, TrainLimit = 32, ValFraction = 0.002, Threads = 2 }, dir.File("run"));
        string checkpoint = Path.Combine(dir.File("run"), RunFiles.Best);
        Assert.Contains("missing test_batch.bin", CliRunner.Fails("evaluate", "--checkpoint", checkpoint, "--data", Cifar), StringComparison.Ordinal);

        var json = CliRunner.Json("evaluate", "--checkpoint", checkpoint, "--data", Cifar, "--split", "train", "--json", "--plot", dir.File("confusion.png"));
        Assert.InRange(json.GetProperty("accuracy").GetDouble(), 0, 1);
        Assert.Equal(10, json.GetProperty("perClassAccuracy").EnumerateObject().Count());
        Assert.Equal(50_000, json.GetProperty("count").GetInt64());
        Assert.True(new FileInfo(dir.File("confusion.png")).Length > 1000);
    }

    [Fact]
    public void Train_CifarAtAnotherResolution_TrainsAndEvaluatesAtIt()
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        var (exit, output, err) = CliRunner.Run("train", "--resolution", "40", "--epochs", "1", "--max-batches", "1", "--batch", "16", "--train-limit", "32",
            "--val-fraction", "0.002", "--threads", "2", "--data", Cifar, "--out", run);
        Assert.True(exit == 0, err);
        Assert.Contains("CIFAR-10 resized to 40x40", output + err, StringComparison.Ordinal);
        string checkpoint = Path.Combine(run, RunFiles.Final);
        Assert.Equal(40, EfficientNet.Weights.ModelCheckpoint.ReadInfo(checkpoint)!.Options.Resolution);

        var json = CliRunner.Json("evaluate", "--checkpoint", checkpoint, "--data", Cifar, "--split", "validation", "--json");
        Assert.Equal(5_000, json.GetProperty("count").GetInt64());
        Assert.InRange(json.GetProperty("accuracy").GetDouble(), 0, 1);
    }

    [Theory]
    [InlineData("-INT")]  // Ctrl+C
    [InlineData("-TERM")] // kill, services, containers
    public void Signal_WritesCheckpoint_ThenResumeFinishes(string signal)
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        string[] args = ["train", "--data", Cifar, "--epochs", "2", "--batch", "16", "--train-limit", "160", "--val-fraction", "0.002", "--threads", "2", "--out", run];
        // env --default-signal: a test host started in the background (nohup … &) passes SIGINT on as
        // ignored, as POSIX shells do for background jobs, and effnet rightly keeps it ignored then.
        var start = new ProcessStartInfo("env", ["--default-signal=INT,TERM", "dotnet", Path.Combine(AppContext.BaseDirectory, "effnet.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.StartsWith("epoch 1/2  batch", StringComparison.Ordinal))
        {
        }
        Assert.NotNull(line);
        using (var kill = Process.Start("kill", [signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }
        string rest = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(EffnetCli.Interrupted, process.ExitCode);
        Assert.Contains("interrupted at epoch 1", rest, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(run, RunFiles.Last)));

        var (exit, stdout, stderr) = CliRunner.Run("train", "--resume", run);
        Assert.True(exit == 0, stderr);
        Assert.Contains("resuming at epoch 1", stdout, StringComparison.Ordinal);
        Assert.Equal(2, HistoryCsv.Read(Path.Combine(run, RunFiles.History)).Count);
    }
}
