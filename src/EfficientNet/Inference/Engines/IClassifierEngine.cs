using static TorchSharp.torch;

namespace EfficientNet.Inference.Engines;

/// <summary>Something that turns normalised image batches into logits: TorchSharp or ONNX Runtime.</summary>
public interface IClassifierEngine : IDisposable
{
    /// <summary>Which engine this is.</summary>
    EngineKind Kind { get; }

    /// <summary>
    /// The (N, classes) logits, on the CPU, of an (N, 3, H, W) float batch normalised as the model expects.
    /// Runs without gradients; the caller owns (disposes) the result.
    /// </summary>
    Tensor Logits(Tensor images);
}
