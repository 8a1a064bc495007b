using System.Text.Json;
using EfficientNet.Cli;
using EfficientNet.Data.Augmentation;
using EfficientNet.Models;
using EfficientNet.Tests.Cli;
using EfficientNet.Training.Distributed;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Distributed;

/// <summary>
/// effnet train and the library's Trainer as 2-process jobs under Open MPI's and MPICH's launchers on this machine,
/// against one process.
/// </summary>
public class DataParallelTests
{
    private static readonly string Cifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    // A short CIFAR-10 run: 16 batches of 16 a process pair shares, 100 validation images.
    private static readonly string[] ShortRun = ["train", "--data", Cifar, "--recipe", "keras", "--batch", "16", "--train-limit", "256", "--val-fraction", "0.002", "--threads", "1"];

    private static string TrainerHost
    {
        get
        {
            // bin/<configuration>/net10.0/ of the tests: the same configuration of the host, built with them.
            string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
            string dll = Path.Combine(TestPaths.RepoRoot, "tests", "TrainerHost", "bin", configuration, "net10.0", "TrainerHost.dll");
            Assert.True(File.Exists(dll), $"{dll} is missing: build the solution");
            return dll;
        }
    }

    [Theory]
    [InlineData(MpiLauncher.OpenMpi)]
    [InlineData(MpiLauncher.Mpich)]
    public void TwoProcesses_GiveOneProcesssParameters_WithBatchNormInInferenceMode(MpiLauncher launcher)
    {
        // 2 processes x 8 images against 1 x 16, SGD with momentum and weight decay for 6 steps from the committed model
        // with a new head (rank 0 sends the model to the other), no augmentation, dropout or stochastic depth, BatchNorm on
        // its running statistics (so a process's half batch is normalised as the whole one).
        using var dir = new TempDir();
        string initial = Path.Combine(TestPaths.RepoRoot, "models", "cifar10-b0.safetensors");
        var options = new TrainOptions
        {
            Data = Cifar,
            InitialWeights = initial,
            ReplaceHead = true,
            Epochs = 1,
            BatchSize = 16,
            TrainLimit = 96,
            ValFraction = 0.002,
            MaxBatchesPerEpoch = 6,
            Seed = 7,
            Threads = 1,
            Optimizer = OptimizerKind.Sgd,
            LearningRate = 0.02,
            Momentum = 0.9,
            Nesterov = true,
            WeightDecay = 5e-4,
            Schedule = ScheduleKind.Constant,
            Dropout = 0,
            StochasticDepth = 0,
            Augmentation = AugmentationOptions.None,
            Freeze = FreezeSpec.None with { BatchNormInference = true },
            EarlyStoppingPatience = 0,
            PlateauPatience = 0,
        };
        string optionsFile = dir.File("options.json");
        File.WriteAllText(optionsFile, JsonSerializer.Serialize(options, Trainer.OptionsJson));
        string one = dir.File("one"), two = dir.File("two");
        TestProcess.Run("dotnet", [TrainerHost, optionsFile, one]);
        var (exit, _, err) = MpiJob.Run(launcher, 2, TrainerHost, [optionsFile, two]);
        Assert.True(exit == 0, err);

        using var start = WeightsFile.Read(initial);
        using var single = WeightsFile.Read(Path.Combine(one, RunFiles.Last));
        using var parallel = WeightsFile.Read(Path.Combine(two, RunFiles.Last));
        double moved = 0;
        var parameters = start.Tensors.Keys.Where(k => k.StartsWith("features.", StringComparison.Ordinal) && !k.Contains("running_", StringComparison.Ordinal) && !k.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            .Append("classifier.1.weight").Append("classifier.1.bias").ToList();
        Assert.True(parameters.Count > 200, "every parameter of B0 is compared");
        foreach (string key in parameters)
        {
            double difference = (single.Tensors[key] - parallel.Tensors[key]).abs().max().item<float>();
            // float32 sums in another order (half batches, the all-reduce): ~1e-7 per step.
            Assert.True(difference < 1e-5, $"{key}: 1 and 2 processes differ by {difference:E2}");
            if (key.StartsWith("features.", StringComparison.Ordinal))
            {
                moved = Math.Max(moved, (single.Tensors[key] - start.Tensors[key]).abs().max().item<float>());
            }
        }
        // The steps moved the backbone's weights by far more than the tolerance.
        Assert.True(moved > 1e-3, $"the weights moved by {moved:E2} at most");
        Assert.Equal(2, JsonDocument.Parse(File.ReadAllText(Path.Combine(two, RunFiles.Options))).RootElement.GetProperty("processes").GetInt32());
    }

    [Theory]
    [InlineData(MpiLauncher.OpenMpi)]
    [InlineData(MpiLauncher.Mpich)]
    public void EffnetTrain_TwoProcesses_RankZeroWritesTheRunFolderAlone(MpiLauncher launcher)
    {
        // BatchNorm in training mode: each process normalises with its own half batch; the ranks' models must still
        // end every epoch bit-identical (the trainer checks and fails otherwise).
        using var dir = new TempDir();
        string run = dir.File("run");
        var (exit, output, err) = MpiJob.Run(launcher, 2, EffnetProcess.Dll, [.. ShortRun, "--epochs", "2", "--max-batches", "4", "--out", run]);
        Assert.True(exit == 0, err);
        string[] expected = [".lock", "accuracy.png", RunFiles.Best, RunFiles.Final, RunFiles.History, RunFiles.Last, "loss.png", "lr.png", RunFiles.Options];
        var files = Directory.GetFiles(run).Select(f => Path.GetFileName(f)).ToList();
        Assert.Single(files, f => f.StartsWith("events.out.tfevents.", StringComparison.Ordinal)); // TensorBoard's, one per session
        Assert.Equal(expected.Order(StringComparer.Ordinal), files.Where(f => !f.StartsWith("events.out.", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal(2, HistoryCsv.Read(Path.Combine(run, RunFiles.History)).Count);
        Assert.Equal(["run"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
        // Rank 0 alone prints progress.
        Assert.Single(output.Split('\n'), line => line.StartsWith("epoch 2:", StringComparison.Ordinal));
        Assert.Contains("data-parallel: 2 processes", output, StringComparison.Ordinal);
        Assert.DoesNotContain("error", err, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(MpiLauncher.OpenMpi)]
    [InlineData(MpiLauncher.Mpich)]
    public void SigtermToOneRank_StopsBothAtOneBatch_AndTheCheckpointResumesOnOneAndOnTwo(MpiLauncher launcher)
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        using (var job = MpiJob.Start(launcher, 2, EffnetProcess.Dll, [.. ShortRun, "--epochs", "2", "--out", run]))
        {
            job.ReadUntil("epoch 1/2  batch 2/");
            MpiJob.Signal(MpiJob.RankProcess(1, run), "-TERM");
            string rest = job.Output.ReadToEnd();
            var (exit, err) = job.Wait(TimeSpan.FromMinutes(2));
            Assert.True(exit == EffnetCli.Interrupted, $"exit {exit}: {err}");
            Assert.Contains("interrupted at epoch 1", rest, StringComparison.Ordinal);
        }
        string copy = dir.File("copy");
        Directory.CreateDirectory(copy);
        foreach (string file in Directory.GetFiles(run))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }

        var (one, oneOut, oneErr) = CliRunner.Run("train", "--resume", run);
        Assert.True(one == 0, oneErr);
        Assert.Contains("resuming at epoch 1", oneOut, StringComparison.Ordinal);
        Assert.Contains("it goes on with 1", oneOut, StringComparison.Ordinal);
        Assert.Equal(2, HistoryCsv.Read(Path.Combine(run, RunFiles.History)).Count);

        var (two, twoOut, twoErr) = MpiJob.Run(launcher, 2, EffnetProcess.Dll, ["train", "--resume", copy]);
        Assert.True(two == 0, twoErr);
        Assert.Contains("resuming at epoch 1", twoOut, StringComparison.Ordinal);
        Assert.Equal(2, HistoryCsv.Read(Path.Combine(copy, RunFiles.History)).Count);
    }

    [Theory]
    [InlineData(MpiLauncher.OpenMpi, "-TERM", "epoch 1/2  batch 2/", "0.002")]
    [InlineData(MpiLauncher.OpenMpi, "-INT", "epoch 1/2  batch 2/", "0.002")]
    [InlineData(MpiLauncher.OpenMpi, "-TERM", "epoch 1/2  batch 15/16", "0.3")] // as a validation of 15,000 images starts
    [InlineData(MpiLauncher.Mpich, "-TERM", "epoch 1/2  batch 2/", "0.002")]
    [InlineData(MpiLauncher.Mpich, "-INT", "epoch 1/2  batch 2/", "0.002")]
    public void SignalToTheLauncher_WritesTheCheckpointWithinItsGrace_AndTheRanksExit130(MpiLauncher launcher, string signal, string after, string valFraction)
    {
        // What kill, timeout, Slurm and Kubernetes do: signal the launcher, not the ranks. Open MPI's mpirun then sends
        // the ranks SIGCONT, SIGTERM a second later and SIGKILL a second after that (its defaults), kills the ranks left
        // as soon as one has exited, and exits 1 itself: its ranks' exit codes reach no one, and may be cut short once
        // the checkpoint is written. MPICH's forwards the signal and waits for every rank.
        using var dir = new TempDir();
        string run = dir.File("run"), codes = dir.File("codes");
        Directory.CreateDirectory(codes);
        using (var job = MpiJob.Start(launcher, 2, EffnetProcess.Dll, [.. With(ShortRun, "--val-fraction", valFraction), "--epochs", "2", "--out", run], exitCodes: codes))
        {
            job.ReadUntil(after);
            MpiJob.Signal(job.Id, signal);
            string rest = job.Output.ReadToEnd();
            var (_, err) = job.Wait(TimeSpan.FromMinutes(1));
            Assert.True(rest.Contains("interrupted at epoch 1", StringComparison.Ordinal), $"{rest}\n{err}");
        }
        var exits = Directory.GetFiles(codes).Select(f => File.ReadAllText(f).Trim()).ToList();
        Assert.All(exits, code => Assert.Equal("130", code));
        Assert.InRange(exits.Count, launcher == MpiLauncher.OpenMpi ? 0 : 2, 2);
        Assert.Empty(Directory.GetFiles(run, "*.tmp"));
        Assert.False(File.Exists(Path.Combine(run, ".writer")), "the run folder's writer record is removed");
        var (exit, output, error) = CliRunner.Run("train", "--resume", run);
        Assert.True(exit == 0, error);
        Assert.Contains("resuming at epoch 1", output, StringComparison.Ordinal);
        Assert.Equal(2, HistoryCsv.Read(Path.Combine(run, RunFiles.History)).Count);
    }

    [Theory]
    [InlineData(MpiLauncher.OpenMpi, "--resolution", "64", "--resolution is not set on rank 0 and 64 on rank 1")]
    [InlineData(MpiLauncher.Mpich, "--seed", "7", "--seed is 42 on rank 0 and 7 on rank 1")]
    public void RanksStartedWithDifferentOptions_StopTogetherBeforeAnyWork_WithOneLineNamingTheOption(MpiLauncher launcher, string option, string value, string expected)
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        string[] args = [.. ShortRun, "--epochs", "1", "--out", run];
        var (exit, _, err) = MpiJob.Run(launcher, [args, [.. args, option, value]], EffnetProcess.Dll);
        Assert.NotEqual(0, exit);
        Assert.Single(err.Split('\n'), l => l.StartsWith("effnet: error: ", StringComparison.Ordinal) || l.Contains("error:", StringComparison.Ordinal));
        Assert.Contains($"effnet: error: the processes were not started alike: {expected}; start every process with the same options and data", err, StringComparison.Ordinal);
        Assert.DoesNotContain("MPI_ABORT", err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(run), "nothing is written");
    }

    [Fact]
    public void RanksGivenDifferentData_StopTogetherBeforeTheFirstStep_SayingWhatDiffers()
    {
        // The data's paths may differ between machines; what they hold may not.
        using var dir = new TempDir();
        string[] folders = [dir.File("six"), dir.File("five")];
        foreach (var (folder, count) in folders.Zip([6, 5]))
        {
            foreach (string flower in new[] { "daisy", "pansy" })
            {
                Directory.CreateDirectory(Path.Combine(folder, flower));
                foreach (string file in Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "train", flower)).Order(StringComparer.Ordinal).Take(count))
                {
                    File.Copy(file, Path.Combine(folder, flower, Path.GetFileName(file)));
                }
            }
        }
        string run = dir.File("run");
        IEnumerable<string> Args(string data) => ["train", "--dataset", "folder", "--data", data, "--resolution", "32", "--val-fraction", "0.25", "--batch", "4", "--epochs", "1", "--threads", "1", "--out", run];
        var (exit, _, err) = MpiJob.Run(MpiLauncher.OpenMpi, [Args(folders[0]), Args(folders[1])], EffnetProcess.Dll);
        Assert.NotEqual(0, exit);
        Assert.Contains("effnet: error: the processes were not started alike: the number of validation images is 4 on rank 0 and 2 on rank 1", err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(run, RunFiles.Last)), "no training step was taken");
    }

    private static string[] With(string[] args, string option, string value) =>
        [.. args.Select((a, k) => k > 0 && args[k - 1] == option ? value : a)];

    [Fact]
    public void KillNineOfOneRank_EndsTheJobSoonWithAnErrorAndTheLastCheckpointIntact()
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        using var job = MpiJob.Start(MpiLauncher.OpenMpi, 2, EffnetProcess.Dll, [.. ShortRun, "--epochs", "3", "--out", run]);
        job.ReadUntil("epoch 2/3  batch 2/");
        MpiJob.Signal(MpiJob.RankProcess(1, run), "-KILL");
        var (exit, _) = job.Wait(TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, exit);
        // The checkpoint of epoch 1 reads (its tensors' checksum is verified) and resumes.
        using (var checkpoint = WeightsFile.Read(Path.Combine(run, RunFiles.Last)))
        {
            Assert.NotEmpty(checkpoint.Tensors);
        }
        Assert.Single(HistoryCsv.Read(Path.Combine(run, RunFiles.History)));
    }

    [Fact]
    public void LauncherOfOneImplementation_LibraryOfTheOther_IsAClearError()
    {
        using var dir = new TempDir();
        var (exit, _, err) = MpiJob.Run(MpiLauncher.OpenMpi, 2, EffnetProcess.Dll, [.. ShortRun, "--epochs", "1", "--out", dir.File("run")],
            new Dictionary<string, string> { [Launch.LibraryVariable] = "libmpich.so.12" });
        Assert.NotEqual(0, exit);
        Assert.Contains("Open MPI's mpirun started 2 processes (OMPI_COMM_WORLD_SIZE=2), but the MPI library libmpich.so.12", err, StringComparison.Ordinal);
        Assert.Contains("belong to different MPI implementations", err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.File("run"), RunFiles.Options)), "nothing is written");
    }

    [Fact]
    public void WithoutALauncher_TheProcessIsAWorldOfOne_AndLoadsNoMpi()
    {
        Assert.Null(Launch.FromEnvironment(Environment.GetEnvironmentVariable));
        var world = World.Communicator;
        Assert.Equal((0, 1, "1 process"), (world.Rank, world.Size, world.Description));
        Assert.DoesNotContain(File.ReadLines("/proc/self/maps"), l => l.Contains("libmpi", StringComparison.Ordinal));
    }

    [Fact]
    public void BenchTrain_TwoProcesses_ReportsTheAllReducesShare()
    {
        var (exit, output, err) = MpiJob.Run(MpiLauncher.OpenMpi, 2, EffnetProcess.Dll, ["bench", "train", "--seconds", "3", "--epochs", "0", "--batch", "32", "--json"]);
        Assert.True(exit == 0, err);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(2, json.GetProperty("processes").GetInt32());
        Assert.Equal(32, json.GetProperty("batch").GetInt32());
        Assert.InRange(json.GetProperty("allReduceShare").GetDouble(), 1e-6, 1);
        Cli.BenchJson.AssertThroughputAddsUp(json, 3);
    }
}
