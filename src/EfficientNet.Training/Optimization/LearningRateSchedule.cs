using EfficientNet.Training.Options;

namespace EfficientNet.Training.Optimization;

/// <summary>
/// The learning rate at each optimizer step: the schedule's value times a plateau scale that
/// reduce-on-plateau lowers, never below the minimum.
/// </summary>
internal sealed class LearningRateSchedule
{
    private readonly TrainOptions options;
    private readonly long totalSteps;
    private readonly long warmupSteps;

    /// <summary>Creates the schedule for <paramref name="stepsPerEpoch"/> batches per epoch.</summary>
    public LearningRateSchedule(TrainOptions options, int stepsPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        totalSteps = (long)options.Epochs * stepsPerEpoch;
        warmupSteps = Math.Min(totalSteps, (long)Math.Round(options.WarmupEpochs * stepsPerEpoch));
    }

    /// <summary>Multiplier applied by reduce-on-plateau (1 until the first plateau).</summary>
    public double PlateauScale { get; set; } = 1;

    /// <summary>The rate for 0-based optimizer step <paramref name="step"/>.</summary>
    public double At(long step)
    {
        double value = options.Schedule switch
        {
            ScheduleKind.Constant => options.LearningRate,
            // Linear warmup to the peak (from step 1, so the first step is not 0), then a straight line or half a cosine to 0.
            _ when step < warmupSteps => options.LearningRate * (step + 1) / warmupSteps,
            ScheduleKind.Linear => options.LearningRate * (1 - DecayProgress(step)),
            _ => options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * DecayProgress(step))),
        };
        return Math.Max(options.MinLearningRate, value * PlateauScale);
    }

    /// <summary>How far past the warmup <paramref name="step"/> is: 0 at its end, 1 at the last step.</summary>
    private double DecayProgress(long step) => Math.Min(1.0, (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps));
}
