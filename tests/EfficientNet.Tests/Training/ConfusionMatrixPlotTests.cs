using EfficientNet.Cli.Output;
using EfficientNet.Training.Evaluation;
using SkiaSharp;

namespace EfficientNet.Tests.Training;

/// <summary>The confusion-matrix chart colours each cell by its own share, under its own count.</summary>
public class ConfusionMatrixPlotTests
{
    [Fact]
    public void EachCellIsColouredByItsShare_UnderItsCount()
    {
        // Every image right: the diagonal is the whole of each row, the rest nothing. Drawn upside down, the bright
        // cells would lie on the anti-diagonal.
        var result = new EvaluationResult(0.1, 1, ["a", "b", "c"], new long[,] { { 7, 0, 0 }, { 0, 5, 0 }, { 0, 0, 9 } });
        var plot = ConfusionMatrixPlot.Render(result, "test");
        using var png = SKBitmap.Decode(plot.GetImageBytes(ConfusionMatrixPlot.Width, ConfusionMatrixPlot.Height, ScottPlot.ImageFormat.Png));

        for (int t = 0; t < 3; t++)
        {
            for (int p = 0; p < 3; p++)
            {
                // A point inside the cell, off its centred count. The colour map runs from dark purple (0) to yellow (1).
                var at = plot.GetPixel(new ScottPlot.Coordinates(p + 0.3, 2 - t + 0.3));
                var colour = png.GetPixel((int)at.X, (int)at.Y);
                bool bright = colour.Green > 150;
                Assert.True(bright == (t == p), $"true {t}, predicted {p}: {colour} at ({at.X:F0}, {at.Y:F0})");
            }
        }
    }
}
