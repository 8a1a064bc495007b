using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;

namespace EfficientNet.Cli.Output;

/// <summary>What a finished training run prints last: how long, how good, and where its files are.</summary>
internal static class TrainingSummary
{
    public static void Write(TextWriter output, TrainingResult result)
    {
        double seconds = result.History.Sum(r => r.Seconds);
        output.WriteLine($"done: {result.History.Count} epoch{(result.History.Count == 1 ? "" : "s")} in {Format.Duration(TimeSpan.FromSeconds(seconds))}{(result.StoppedEarly ? " (stopped early)" : "")}");
        Row("best epoch", $"{result.BestEpoch}, validation accuracy {result.BestAccuracy:P2}");
        if (result.History.Count > 0)
        {
            Row("last epoch", $"{result.History[^1].Epoch}, validation accuracy {result.History[^1].ValAccuracy:P2}");
        }
        Row("final model", result.FinalModelPath);
        Row("best model", result.BestModelPath);
        Row("history, plots", $"{Path.Combine(result.RunDirectory, RunFiles.History)}, loss.png, accuracy.png, lr.png");

        void Row(string what, string value) => output.WriteLine($"  {what,-15} {value}");
    }
}
