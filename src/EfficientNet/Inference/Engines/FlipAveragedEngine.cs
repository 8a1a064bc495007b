using static TorchSharp.torch;

namespace EfficientNet.Inference.Engines;

/// <summary>
/// Wraps an engine so that its "logits" are the log of the mean probabilities of each image and its mirror:
/// softmax of them gives the averaged probabilities, and cross-entropy on them is the averaged prediction's loss,
/// so prediction, batch prediction and evaluation all use the augmentation unchanged.
/// </summary>
internal sealed class FlipAveragedEngine(IClassifierEngine inner) : IClassifierEngine
{
    public EngineKind Kind => inner.Kind;

    public Tensor Logits(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        using var scope = NewDisposeScope();
        var direct = nn.functional.softmax(inner.Logits(images), 1);
        var mirrored = nn.functional.softmax(inner.Logits(images.flip(3)), 1);
        return direct.add(mirrored).div_(2).log_().MoveToOuterDisposeScope();
    }

    public void Dispose() => inner.Dispose();
}
