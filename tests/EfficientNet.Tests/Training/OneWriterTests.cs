using System.Diagnostics;
using System.Globalization;
using EfficientNet.Tests.Cli;
using EfficientNet.Training.Runs;

namespace EfficientNet.Tests.Training;

/// <summary>A run folder has one writer at a time, and a killed writer leaves no stale lock.</summary>
public class OneWriterTests
{
    private static readonly string Cifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    [Fact]
    public void SecondWriter_IsRefusedNamingTheHolder_AndAKilledHolderLeavesNothingStale()
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        // A run long enough to be busy while the others try (200 batches), started as its own process.
        var start = new ProcessStartInfo("env", ["--default-signal=INT,TERM", "dotnet", EffnetProcess.Dll, "train", "--data", Cifar, "--recipe", "keras",
            "--epochs", "1", "--batch", "16", "--train-limit", "3200", "--val-fraction", "0.002", "--threads", "1", "--out", run])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var holder = Process.Start(start)!;
        try
        {
            string? line;
            while ((line = holder.StandardOutput.ReadLine()) is not null && !line.StartsWith("epoch 1/1  batch", StringComparison.Ordinal))
            {
            }
            Assert.NotNull(line);
            string held = $"'{run}' is being written by another run (process {holder.Id.ToString(CultureInfo.InvariantCulture)} on {Environment.MachineName}";

            Assert.Contains(held, CliRunner.Fails("train", "--data", Cifar, "--epochs", "1", "--batch", "16", "--train-limit", "32", "--val-fraction", "0.002", "--out", run), StringComparison.Ordinal);
            Assert.Contains(held, CliRunner.Fails("train", "--resume", run), StringComparison.Ordinal);
        }
        finally
        {
            holder.Kill();
            holder.WaitForExit();
        }

        // SIGKILL: the kernel released the lock with the process.
        using (RunFolderLock.Take(run))
        {
            Assert.Contains($"process {Environment.ProcessId} ", File.ReadAllText(Path.Combine(run, ".writer")), StringComparison.Ordinal);
        }
        Assert.False(File.Exists(Path.Combine(run, ".writer")), "the holder's note goes with the lock");
    }
}
