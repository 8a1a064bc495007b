using EfficientNet.Models;
using static TorchSharp.torch;

namespace EfficientNet.Inference;

/// <summary>Runs an <see cref="EfficientNetModel"/> in TorchSharp, prepared for inference (<see cref="InferenceOptimizer"/>).</summary>
public sealed class TorchEngine : IClassifierEngine
{
    private readonly Device device;

    /// <summary>Takes ownership of <paramref name="model"/> and prepares it with <paramref name="settings"/> (defaults when null).</summary>
    public TorchEngine(EfficientNetModel model, InferenceSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Settings = settings ?? new InferenceSettings();
        InferenceOptimizer.Prepare(model, Settings);
        device = model.parameters().First().device;
    }

    /// <summary>The model (in evaluation mode).</summary>
    public EfficientNetModel Model { get; }

    /// <summary>Layout and BatchNorm folding in use.</summary>
    public InferenceSettings Settings { get; }

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
