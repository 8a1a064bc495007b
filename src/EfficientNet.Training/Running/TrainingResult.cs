using EfficientNet.Training.Options;
using EfficientNet.Training.Runs;

namespace EfficientNet.Training.Running;

/// <summary>How a run ended.</summary>
/// <param name="RunDirectory">The run folder.</param>
/// <param name="History">Every completed epoch.</param>
/// <param name="BestAccuracy">Best validation accuracy.</param>
/// <param name="BestEpoch">1-based epoch of the best validation accuracy.</param>
/// <param name="StoppedEarly">Early stopping ended the run.</param>
/// <param name="Interrupted">Cancelled (Ctrl+C); a checkpoint was written to resume from.</param>
public sealed record TrainingResult(string RunDirectory, IReadOnlyList<EpochRecord> History, double BestAccuracy, int BestEpoch, bool StoppedEarly, bool Interrupted)
{
    /// <summary>The best model (a checkpoint for predict and evaluate).</summary>
    public string BestModelPath => Path.Combine(RunDirectory, RunFiles.Best);

    /// <summary>The resumable checkpoint.</summary>
    public string LastCheckpointPath => Path.Combine(RunDirectory, RunFiles.Last);

    /// <summary>
    /// The model the run ends with (written when it was not interrupted): the best epoch's weights with
    /// <see cref="TrainOptions.RestoreBestWeights"/>, else the last epoch's.
    /// </summary>
    public string FinalModelPath => Path.Combine(RunDirectory, RunFiles.Final);
}
