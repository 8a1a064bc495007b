using EfficientNet.Models;
using EfficientNet.Training.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Training.Optimization;

/// <summary>
/// An exponential moving average of a model's weights and buffers (BatchNorm running statistics included), kept in a
/// second model of the same architecture that can be evaluated and saved like any other. Integer buffers (the
/// BatchNorm batch counters) are copied, not averaged. Frozen parameters (no gradient when the average starts)
/// are copied once and left alone: they cannot change, and averaging them would only add rounding.
/// </summary>
internal sealed class WeightAverage : IDisposable
{
    /// <summary>Name prefix of the average's tensors inside a training checkpoint.</summary>
    public const string CheckpointPrefix = Weights.ModelCheckpoint.ExtraTensorPrefix + "ema.";

    private readonly double decay;
    private readonly (Tensor Average, Tensor Live)[] pairs;

    /// <summary>Starts the average at <paramref name="model"/>'s current weights.</summary>
    public WeightAverage(EfficientNetModel model, double decay)
    {
        ArgumentNullException.ThrowIfNull(model);
        this.decay = decay;
        Model = new EfficientNetModel(model.Spec, model.Options);
        Model.to(model.parameters().First().device);
        Model.eval();
        foreach (var parameter in Model.parameters())
        {
            parameter.requires_grad = false;
        }
        var live = model.state_dict();
        var all = Model.state_dict().Select(kv => (Name: kv.Key, Average: kv.Value, Live: live[kv.Key])).ToArray();
        using (no_grad())
        {
            foreach (var (_, average, current) in all)
            {
                average.copy_(current);
            }
        }
        var frozen = model.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => p.name).ToHashSet();
        pairs = all.Where(e => !frozen.Contains(e.Name)).Select(e => (e.Average, e.Live)).ToArray();
    }

    /// <summary>The averaged model (always in evaluation mode).</summary>
    public EfficientNetModel Model { get; }

    /// <summary>The decay used after <paramref name="steps"/> updates: min(decay, (1 + steps) / (10 + steps)).</summary>
    public double DecayAt(long steps) => Math.Min(decay, (1.0 + steps) / (10.0 + steps));

    /// <summary>Moves the average towards the live model after its <paramref name="steps"/>-th update (0-based).</summary>
    public void Update(long steps)
    {
        double d = DecayAt(steps);
        using var noGrad = no_grad();
        // Scalars held explicitly: an implicit temporary could be finalized by the GC during the native call.
        using var keep = d.ToScalar();
        using var take = (1 - d).ToScalar();
        foreach (var (average, current) in pairs)
        {
            if (average.is_floating_point())
            {
                average.mul_(keep).add_(current, alpha: take);
            }
            else
            {
                average.copy_(current);
            }
        }
    }

    /// <summary>The average's tensors, named for a training checkpoint.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> CheckpointTensors() =>
        Model.state_dict().Select(kv => KeyValuePair.Create(CheckpointPrefix + kv.Key, kv.Value));

    /// <summary>Restores the average from a training checkpoint's tensors.</summary>
    /// <exception cref="EfficientNetException">The checkpoint has no average (it was written without <see cref="TrainOptions.EmaDecay"/>).</exception>
    public void Load(IReadOnlyDictionary<string, Tensor> tensors, string path)
    {
        using var noGrad = no_grad();
        foreach (var (name, average) in Model.state_dict())
        {
            if (!tensors.TryGetValue(CheckpointPrefix + name, out var saved))
            {
                throw new EfficientNetException($"'{path}' has no weight average ({CheckpointPrefix}{name} is missing); it was not written by a run with TrainOptions.EmaDecay");
            }
            average.copy_(saved);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => Model.Dispose();
}
