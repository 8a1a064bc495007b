using EfficientNet.Models;
using static TorchSharp.torch;

namespace EfficientNet.Inference.Engines;

/// <summary>Runs an <see cref="EfficientNetModel"/> in TorchSharp, prepared for inference: evaluation mode, channels-last weights, BatchNorm folded into the convolutions (the state dict keeps its keys).</summary>
public sealed class TorchEngine : IClassifierEngine
{
    private readonly Device device;

    /// <summary>
    /// Takes ownership of <paramref name="model"/> and prepares it: channels-last weights unless
    /// <paramref name="channelsLast"/> is false, BatchNorm folded unless <paramref name="fuseBatchNorm"/> is false.
    /// </summary>
    public TorchEngine(EfficientNetModel model, bool channelsLast = true, bool fuseBatchNorm = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Settings = new InferenceSettings(channelsLast, fuseBatchNorm);
        InferenceOptimizer.Prepare(model, Settings);
        device = model.parameters().First().device;
    }

    /// <summary>The model (in evaluation mode).</summary>
    public EfficientNetModel Model { get; }

    /// <summary>Whether the weights are channels-last (input is best given channels-last too).</summary>
    public bool ChannelsLast => Settings.ChannelsLast;

    /// <summary>Whether BatchNorm is folded into the convolutions.</summary>
    public bool FuseBatchNorm => Settings.FuseBatchNorm;

    internal InferenceSettings Settings { get; }

    /// <inheritdoc/>
    public EngineKind Kind => EngineKind.Torch;

    /// <inheritdoc/>
    public Tensor Logits(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return Model.call(images.to(device)).cpu().MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void Dispose() => Model.Dispose();
}
