using System.Text.Json;
using EfficientNet.Imaging;
using EfficientNet.IO;
using EfficientNet.Models;
using EfficientNet.Training.Optimization;
using EfficientNet.Training.Options;
using EfficientNet.Training.Reporting;
using EfficientNet.Training.Running;
using EfficientNet.Weights;
using TorchSharp.Modules;

namespace EfficientNet.Training.Runs;

/// <summary>
/// The files of one training run (<see cref="RunFiles"/>), written the same way by every trainer:
/// options.json at the start; after each epoch the best model, the resumable checkpoint, history.csv
/// and the plots; each file atomically.
/// </summary>
internal sealed class RunFolder(string directory, IReadOnlyList<string> classes, Normalization normalization, string description)
{
    /// <summary>The run folder.</summary>
    public string RunDirectory => directory;

    public string LastPath => Path.Combine(directory, RunFiles.Last);

    /// <summary>
    /// Refuses a folder that already holds a run with a checkpoint, then writes options.json. A folder whose run
    /// stopped before its first checkpoint (options.json only: a bad image, a kill or a full disk in epoch 1) holds
    /// nothing to keep and is reused; returns true then.
    /// </summary>
    public static bool Create(string directory, TrainOptions options)
    {
        if (File.Exists(Path.Combine(directory, RunFiles.Last)))
        {
            throw new EfficientNetException($"'{directory}' already holds a run; continue it with Trainer.Resume {directory} or choose another run folder");
        }
        bool reused = File.Exists(Path.Combine(directory, RunFiles.Options));
        Directory.CreateDirectory(directory);
        // What the run that stopped before its first checkpoint met and drew is met and drawn again by this one.
        File.Delete(Path.Combine(directory, RunFiles.BadImages));
        foreach (string events in Directory.GetFiles(directory, TensorBoardLog.FilePattern))
        {
            File.Delete(events);
        }
        AtomicFile.RemoveLeftovers(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, RunFiles.Options), JsonSerializer.Serialize(options, Trainer.OptionsJson));
        return reused;
    }

    /// <summary>Lists <paramref name="images"/>, met in 1-based <paramref name="epoch"/>, in bad-images.csv; returns how many it lists for that epoch.</summary>
    public int AddBadImages(int epoch, IReadOnlyList<BadImage> images) => BadImageLog.Append(Path.Combine(directory, RunFiles.BadImages), epoch, images);

    /// <summary>Rewrites history.csv (e.g. when a resumed run's checkpoint is behind the file).</summary>
    public void WriteHistory(IReadOnlyList<EpochRecord> history) => HistoryCsv.Write(Path.Combine(directory, RunFiles.History), history);

    /// <summary>Writes the resumable checkpoint: the trained model, its optimizer and its weight average (when kept).</summary>
    public void SaveLast(EfficientNetModel model, OptimizerHelper optimizer, WeightAverage? average, TrainingState state) =>
        TrainingCheckpoint.Save(LastPath, model, optimizer, average, state, classes, normalization);

    /// <summary>Writes the model the run ends with.</summary>
    public void SaveFinal(EfficientNetModel model) =>
        ModelCheckpoint.Save(model, Path.Combine(directory, RunFiles.Final), classes, normalization);

    /// <summary>Makes the best model the one the run ends with: best.safetensors copied, as it is, to final.safetensors.</summary>
    public void CopyBestToFinal() => AtomicFile.Copy(Path.Combine(directory, RunFiles.Best), Path.Combine(directory, RunFiles.Final));

    /// <summary>
    /// Everything after a validated epoch: the best model (when the validated model, the weight average if kept, is
    /// the best so far), the checkpoint, history, plots.
    /// </summary>
    public void EndEpoch(EfficientNetModel model, OptimizerHelper optimizer, WeightAverage? average, TrainingState state, bool best)
    {
        if (best)
        {
            ModelCheckpoint.Save(average?.Model ?? model, Path.Combine(directory, RunFiles.Best), classes, normalization);
        }
        SaveLast(model, optimizer, average, state);
        WriteHistory(state.History);
        HistoryPlots.Write(directory, state.History, description);
    }
}
