using EfficientNet.IO;
using EfficientNet.Training.Evaluation;
using ScottPlot;

namespace EfficientNet.Cli.Output;

/// <summary>A confusion matrix as a PNG heat map, rows the true class, columns the predicted one, each row as shares of that class.</summary>
internal static class ConfusionMatrixPlot
{
    /// <summary>Chart width and height in pixels.</summary>
    public const int Width = 900, Height = 800;

    /// <summary>Writes the chart for <paramref name="result"/> to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, EvaluationResult result, string title)
    {
        byte[] png = Render(result, title).GetImageBytes(Width, Height, ImageFormat.Png);
        AtomicFile.Write(path, stream => stream.Write(png));
    }

    /// <summary>
    /// The chart: true class t is the row at y = k - 1 - t (class 0 on top), predicted class p the column at x = p,
    /// each cell coloured by its share of the row and labelled with its count.
    /// </summary>
    internal static Plot Render(EvaluationResult result, string title)
    {
        ArgumentNullException.ThrowIfNull(result);
        int k = result.Classes.Count;
        var shares = new double[k, k];
        for (int t = 0; t < k; t++)
        {
            long total = Enumerable.Range(0, k).Sum(p => result.Confusion[t, p]);
            for (int p = 0; p < k; p++)
            {
                // A heatmap draws its first data row on top, where class 0's labels are.
                shares[t, p] = total == 0 ? 0 : (double)result.Confusion[t, p] / total;
            }
        }
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(shares);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(heatmap);
        for (int t = 0; t < k; t++)
        {
            for (int p = 0; p < k; p++)
            {
                var text = plot.Add.Text(result.Confusion[t, p].ToString(System.Globalization.CultureInfo.InvariantCulture), p, k - 1 - t);
                text.LabelFontColor = shares[t, p] > 0.5 ? Colors.Black : Colors.White;
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = k > 12 ? 9 : 12;
            }
        }
        double[] ticks = Enumerable.Range(0, k).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(ticks, result.Classes.ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Left.SetTicks(ticks, result.Classes.Reverse().ToArray());
        plot.Title($"{title}: accuracy {result.Accuracy:P2}");
        plot.XLabel("predicted");
        plot.YLabel("true");
        return plot;
    }
}
