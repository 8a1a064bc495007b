using EfficientNet.IO;
using EfficientNet.Training.Runs;
using ScottPlot;

namespace EfficientNet.Training.Reporting;

/// <summary>PNG charts of a run's history (ScottPlot), rewritten atomically after every epoch.</summary>
internal static class HistoryPlots
{
    private const int Width = 900;
    private const int Height = 540;

    /// <summary>Writes loss.png, accuracy.png and lr.png into <paramref name="directory"/>.</summary>
    public static void Write(string directory, IReadOnlyList<EpochRecord> history, string title)
    {
        ArgumentNullException.ThrowIfNull(history);
        if (history.Count == 0)
        {
            return;
        }
        double[] epochs = history.Select(r => (double)r.Epoch).ToArray();
        // Legends go where the curves are not at the end of a run: losses fall, accuracies rise.
        Save(Path.Combine(directory, "loss.png"), $"{title}: loss", "loss", Alignment.UpperRight, epochs,
            ("train", history.Select(r => r.TrainLoss).ToArray()), ("validation", history.Select(r => r.ValLoss).ToArray()));
        Save(Path.Combine(directory, "accuracy.png"), $"{title}: accuracy", "accuracy", Alignment.LowerRight, epochs,
            ("train", history.Select(r => r.TrainAccuracy).ToArray()), ("validation", history.Select(r => r.ValAccuracy).ToArray()));
        Save(Path.Combine(directory, "lr.png"), $"{title}: learning rate at the end of each epoch", "learning rate", Alignment.UpperRight, epochs,
            ("learning rate", history.Select(r => r.LearningRate).ToArray()));
    }

    private static void Save(string path, string title, string yLabel, Alignment legend, double[] epochs, params (string Label, double[] Values)[] series)
    {
        var plot = new Plot();
        foreach (var (label, values) in series)
        {
            var line = plot.Add.Scatter(epochs, values);
            line.LegendText = label;
            line.MarkerSize = epochs.Length > 60 ? 0 : 4;
        }
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        if (series.Length > 1)
        {
            plot.ShowLegend(legend);
        }
        byte[] png = plot.GetImageBytes(Width, Height, ImageFormat.Png);
        AtomicFile.Write(path, stream => stream.Write(png));
    }
}
