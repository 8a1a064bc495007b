using System.Globalization;
using System.Text;
using EfficientNet.IO;
using EfficientNet.Training.Options;

namespace EfficientNet.Training.Runs;

/// <summary>One row of a run's history.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="TrainLoss">Mean training loss (with label smoothing, on augmented batches).</param>
/// <param name="TrainAccuracy">Training accuracy on augmented batches (against the unmixed labels).</param>
/// <param name="ValLoss">Validation loss (plain cross-entropy target, label smoothing included).</param>
/// <param name="ValAccuracy">Validation accuracy.</param>
/// <param name="LearningRate">Learning rate at the epoch's last step.</param>
/// <param name="Seconds">Wall time of the epoch, validation included.</param>
/// <param name="ImagesPerSecond">Training images per second.</param>
/// <param name="ResidentMegabytes">Process resident memory at the end of the epoch, after free memory went back to the OS (<see cref="Runtime.ProcessResources.ResidentMegabytesAfterRelease"/>), to see that it stays flat.</param>
/// <param name="BadImages">
/// Unreadable images the epoch did without, training and validation (<see cref="ImageReading.SkipBadImages"/>): those a
/// streamed set skipped as it met them, and those a set decoded into memory left out from the start.
/// </param>
public sealed record EpochRecord(
    int Epoch, double TrainLoss, double TrainAccuracy, double ValLoss, double ValAccuracy, double LearningRate, double Seconds, double ImagesPerSecond, double ResidentMegabytes,
    int BadImages = 0);

/// <summary>history.csv: one line per epoch, rewritten atomically after each epoch.</summary>
internal static class HistoryCsv
{
    /// <summary>The header line.</summary>
    public const string Header = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_second,rss_mb,bad_images";

    // Written before bad_images was counted; read as 0 skipped.
    private const string HeaderWithoutBadImages = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_second,rss_mb";

    /// <summary>Writes all rows to <paramref name="path"/>.</summary>
    public static void Write(string path, IEnumerable<EpochRecord> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var text = new StringBuilder(Header).Append('\n');
        foreach (var r in history)
        {
            text.Append(string.Join(',',
                r.Epoch.ToString(CultureInfo.InvariantCulture),
                F(r.TrainLoss), F(r.TrainAccuracy), F(r.ValLoss), F(r.ValAccuracy),
                r.LearningRate.ToString("G6", CultureInfo.InvariantCulture), F(r.Seconds), F(r.ImagesPerSecond), F(r.ResidentMegabytes),
                r.BadImages.ToString(CultureInfo.InvariantCulture))).Append('\n');
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }

    /// <summary>Reads a file written by <see cref="Write"/>.</summary>
    public static IReadOnlyList<EpochRecord> Read(string path)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || (lines[0] != Header && lines[0] != HeaderWithoutBadImages))
        {
            throw new EfficientNetException($"'{path}' is not a history file (expected the header '{Header}')");
        }
        return lines.Skip(1).Where(l => l.Length > 0).Select(l =>
        {
            var c = l.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            return new EpochRecord((int)c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c.Length > 9 ? (int)c[9] : 0);
        }).ToArray();
    }

    private static string F(double value) => value.ToString("F6", CultureInfo.InvariantCulture);
}
