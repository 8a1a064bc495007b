using EfficientNet.Training.Options;
using EfficientNet.Training.Runs;

namespace EfficientNet.Training.Reporting;

/// <summary>What a run reports once at its start.</summary>
/// <param name="Options">The resolved options.</param>
/// <param name="Model">Model description, e.g. "EfficientNet-B0 (CIFAR stem), 10 classes, 32x32".</param>
/// <param name="TrainImages">Training images.</param>
/// <param name="ValidationImages">Validation images.</param>
/// <param name="BatchesPerEpoch">Optimizer steps per epoch.</param>
/// <param name="RunDirectory">The run folder.</param>
/// <param name="ResumedAt">Epoch (1-based) and batch a resumed run continues from, or null.</param>
/// <param name="Processes">What trains: "1 process", or the data-parallel job, e.g. "2 processes (Open MPI v4.1.4)".</param>
public sealed record TrainingStart(TrainOptions Options, string Model, int TrainImages, int ValidationImages, int BatchesPerEpoch, string RunDirectory, (int Epoch, int Batch)? ResumedAt, string Processes);

/// <summary>Progress inside an epoch.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Total epochs.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="Batches">Batches per epoch.</param>
/// <param name="Loss">Mean training loss so far this epoch.</param>
/// <param name="Accuracy">Training accuracy so far this epoch.</param>
/// <param name="LearningRate">Current learning rate.</param>
/// <param name="ImagesPerSecond">Training throughput so far this epoch.</param>
/// <param name="Eta">Estimated time to the end of the epoch's training part.</param>
/// <param name="RunEta">
/// Estimated time to the end of the run: the rest of its batches at this epoch's pace, and a validation per epoch left
/// as long as the last one took (none counted before the first).
/// </param>
public sealed record BatchProgress(int Epoch, int Epochs, int Batch, int Batches, double Loss, double Accuracy, double LearningRate, double ImagesPerSecond, TimeSpan Eta, TimeSpan RunEta);

/// <summary>Receives a run's progress (the CLI draws it; tests may record it).</summary>
public interface ITrainingObserver
{
    /// <summary>The run is about to train.</summary>
    void Started(TrainingStart start);

    /// <summary>A batch finished.</summary>
    void BatchDone(BatchProgress progress);

    /// <summary>An epoch finished and was validated; <paramref name="best"/> when it is the best so far.</summary>
    void EpochDone(EpochRecord record, bool best);

    /// <summary>A notable event (learning rate reduced, early stop, checkpoint written after an interruption).</summary>
    void Message(string text);
}
