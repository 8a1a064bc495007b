using System.Text.Json;
using EfficientNet.Data;
using EfficientNet.Imaging;
using EfficientNet.Models;
using EfficientNet.Training.Optimization;
using EfficientNet.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Training.Runs;

/// <summary>Where a run stands: enough, with the weights and optimizer, to continue exactly.</summary>
internal sealed record TrainingState
{
    /// <summary>0-based epoch in progress (equal to the epochs completed when <see cref="Batch"/> is 0).</summary>
    public int Epoch { get; init; }

    /// <summary>Next batch of <see cref="Epoch"/> (0 at an epoch boundary; more after an interruption).</summary>
    public int Batch { get; init; }

    /// <summary>Optimizer steps taken so far.</summary>
    public long Step { get; init; }

    /// <summary>Reduce-on-plateau's multiplier on the schedule.</summary>
    public double PlateauScale { get; init; } = 1;

    /// <summary>Reduce-on-plateau's best validation loss.</summary>
    public double PlateauBest { get; init; } = double.PositiveInfinity;

    /// <summary>Reduce-on-plateau's epochs since its best.</summary>
    public int PlateauWait { get; init; }

    /// <summary>Best validation accuracy so far.</summary>
    public double BestAccuracy { get; init; } = -1;

    /// <summary>1-based epoch of the best validation accuracy.</summary>
    public int BestEpoch { get; init; }

    /// <summary>Early stopping's epochs since the best.</summary>
    public int StopWait { get; init; }

    /// <summary>Running sums of the interrupted epoch: loss × images, correct, images, seconds.</summary>
    public double PartialLoss { get; init; }

    /// <summary>Correct predictions so far in the interrupted epoch.</summary>
    public long PartialCorrect { get; init; }

    /// <summary>Images seen so far in the interrupted epoch.</summary>
    public long PartialSeen { get; init; }

    /// <summary>Training seconds so far in the interrupted epoch.</summary>
    public double PartialSeconds { get; init; }

    /// <summary>Completed epochs.</summary>
    public IReadOnlyList<EpochRecord> History { get; init; } = [];
}

/// <summary>
/// A training checkpoint: a model checkpoint (usable by predict and evaluate as it is) that also holds
/// the optimizer state, the RNG state and the <see cref="TrainingState"/>, in one file written
/// atomically.
/// </summary>
internal static class TrainingCheckpoint
{
    private const string StateKey = "efficientnet.training";
    private const string OptimizerTensor = ModelCheckpoint.ExtraTensorPrefix + "optimizer";
    private const string RngTensor = ModelCheckpoint.ExtraTensorPrefix + "rng";

    // Named literals: a run interrupted before its first validation still has +Infinity as its best loss.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Writes everything needed to resume to <paramref name="path"/> (with the weight average, when there is one).</summary>
    public static void Save(string path, EfficientNetModel model, OptimizerHelper optimizer, WeightAverage? average, TrainingState state, IReadOnlyList<string> classNames, Normalization normalization)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        using var memory = new MemoryStream();
        using (var writer = new BinaryWriter(memory, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            optimizer.save_state_dict(writer);
        }
        using var optimizerBytes = tensor(memory.ToArray());
        using var rng = torch.random.get_rng_state();
        ModelCheckpoint.Save(
            model,
            path,
            classNames,
            normalization,
            new Dictionary<string, string> { [StateKey] = JsonSerializer.Serialize(state, Json) },
            [KeyValuePair.Create(OptimizerTensor, optimizerBytes), KeyValuePair.Create(RngTensor, rng), .. average?.CheckpointTensors() ?? []]);
    }

    /// <summary>
    /// Restores weights, optimizer, RNG and the weight average (when the run keeps one) from <paramref name="path"/>
    /// into an already built model and optimizer; returns the saved state.
    /// </summary>
    /// <exception cref="EfficientNetException">The file is missing, not a training checkpoint, or for another model.</exception>
    public static TrainingState Load(string path, EfficientNetModel model, OptimizerHelper optimizer, WeightAverage? average)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        if (ModelCheckpoint.ReadInfo(path)?.Metadata.GetValueOrDefault(StateKey) is not { } json)
        {
            throw new EfficientNetException($"'{path}' is a model checkpoint without training state; it cannot be resumed (load it as a model's weights instead)");
        }
        ModelCheckpoint.Load(path, model, extras =>
        {
            if (!extras.TryGetValue(OptimizerTensor, out var optimizerState) || !extras.TryGetValue(RngTensor, out var rng))
            {
                throw new EfficientNetException($"'{path}' has training state but no optimizer or generator state; it cannot be resumed");
            }
            using (var reader = new BinaryReader(new MemoryStream(optimizerState.data<byte>().ToArray())))
            {
                optimizer.load_state_dict(reader);
            }
            torch.random.set_rng_state(rng);
            average?.Load(extras, path);
        });
        return JsonSerializer.Deserialize<TrainingState>(json, Json)
            ?? throw new EfficientNetException($"'{path}' has an empty training state");
    }
}
