using System.Diagnostics;
using EfficientNet.Data.Augmentation;
using EfficientNet.Training.Options;
using EfficientNet.Training.Reporting;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;

namespace EfficientNet.Cli.Output;

/// <summary>
/// Shows training progress: on a terminal one line redrawn in place (loss, accuracy, learning rate,
/// images/s, ETA); in a pipe or log, plain lines at every tenth of an epoch. Each epoch ends with a
/// summary line either way.
/// </summary>
internal sealed class ConsoleTrainingObserver(TextWriter output, bool live) : ITrainingObserver
{
    private readonly Stopwatch throttle = Stopwatch.StartNew();
    private int lastTenth = -1;

    /// <inheritdoc/>
    public void Started(TrainingStart start)
    {
        output.WriteLine($"model: {start.Model}");
        output.WriteLine($"data: {start.TrainImages} training images, {start.ValidationImages} validation images, {start.BatchesPerEpoch} batches per epoch");
        output.WriteLine($"run folder: {start.RunDirectory}");
        if (start.Options.Processes > 1)
        {
            output.WriteLine($"data-parallel: {start.Processes}, each {start.Options.BatchSize / start.Options.Processes} of every batch of {start.Options.BatchSize}");
        }
        if (start.ResumedAt is { } at)
        {
            output.WriteLine($"resuming at epoch {at.Epoch}, batch {at.Batch}");
        }
        output.WriteLine($"options: {Summary(start.Options)}; every option is in {Path.Combine(start.RunDirectory, RunFiles.Options)}");
    }

    /// <summary>The options that shape the run, in one line.</summary>
    private static string Summary(TrainOptions o)
    {
        var a = o.Augmentation;
        var augmentation = new List<string>();
        if (a.Flip) { augmentation.Add("flip"); }
        if (a.CropPadding > 0) { augmentation.Add($"crop with padding {a.CropPadding}"); }
        if (a.Rotation > 0) { augmentation.Add($"rotation {a.Rotation:G3}"); }
        if (a.Zoom > 0) { augmentation.Add($"zoom {a.Zoom:G3}"); }
        if (a.Translation > 0) { augmentation.Add($"translation {a.Translation:G3}"); }
        if (a.Contrast > 0) { augmentation.Add($"contrast {a.Contrast:G3}"); }
        if (a.Cutout > 0) { augmentation.Add($"cutout {a.Cutout}"); }
        if (a.Policy != AutoAugmentKind.None) { augmentation.Add(a.Policy.ToString()); }
        if (a.Mixup > 0) { augmentation.Add($"mixup {a.Mixup:G3}"); }
        if (a.Cutmix > 0) { augmentation.Add($"cutmix {a.Cutmix:G3}"); }
        string optimizer = o.Optimizer.ToString().ToLowerInvariant() + (o.Optimizer == OptimizerKind.Sgd ? $" momentum {o.Momentum:G3}{(o.Nesterov ? " nesterov" : "")}" : "");
        string schedule = o.Schedule == ScheduleKind.Constant ? "constant" : $"{o.Schedule.ToString().ToLowerInvariant()}, {o.WarmupEpochs:G3} warmup epochs";
        return $"{o.Epochs} epochs, batch {o.BatchSize}, {optimizer}, lr {o.LearningRate:G3} ({schedule}), weight decay {o.WeightDecay:G3}, " +
            $"label smoothing {o.LabelSmoothing:G3}, stochastic depth {o.StochasticDepth:G3}, augmentation {(augmentation.Count > 0 ? string.Join(", ", augmentation) : "none")}, " +
            $"weight average {(o.EmaDecay > 0 ? $"{o.EmaDecay:G4}" : "off")}, early stopping {(o.EarlyStoppingPatience > 0 ? $"after {o.EarlyStoppingPatience} epochs" : "off")}, " +
            $"final model: {(o.RestoreBestWeights ? "best epoch" : "last epoch")}, seed {o.Seed}";
    }

    public void BatchDone(BatchProgress p)
    {
        string line = $"epoch {p.Epoch}/{p.Epochs}  batch {p.Batch}/{p.Batches}  loss {p.Loss:F4}  acc {p.Accuracy:P2}  lr {p.LearningRate:G3}  {p.ImagesPerSecond:F0} img/s  ETA {Format.Duration(p.Eta)} (run {Format.Duration(p.RunEta)})";
        if (live)
        {
            if (throttle.ElapsedMilliseconds >= 250 || p.Batch == p.Batches)
            {
                output.Write("\r" + line.PadRight(110));
                output.Flush();
                throttle.Restart();
            }
            return;
        }
        int tenth = p.Batch * 10 / p.Batches;
        if (tenth != lastTenth && tenth < 10)
        {
            output.WriteLine(line);
            lastTenth = tenth;
        }
    }

    public void EpochDone(EpochRecord r, bool best)
    {
        if (live)
        {
            output.Write("\r" + new string(' ', 110) + "\r");
        }
        lastTenth = -1;
        output.WriteLine(
            $"epoch {r.Epoch}: train loss {r.TrainLoss:F4} acc {r.TrainAccuracy:P2} | val loss {r.ValLoss:F4} acc {r.ValAccuracy:P2} | lr {r.LearningRate:G3} | {r.Seconds:F0} s, {r.ImagesPerSecond:F0} img/s{(best ? " | best" : "")}");
    }

    public void Message(string text)
    {
        if (live)
        {
            output.WriteLine();
        }
        output.WriteLine(OptionFlags.Rewrite(text));
    }
}
