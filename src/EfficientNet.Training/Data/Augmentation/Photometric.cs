using static TorchSharp.torch;

namespace EfficientNet.Data.Augmentation;

/// <summary>
/// Keras RandomContrast(f): per image a factor uniform in 1 ± f, each channel moved away from (or
/// towards) its own mean by that factor, then clipped to [0, 1].
/// </summary>
public sealed record RandomContrast(double Factor) : IBatchTransform
{
    /// <inheritdoc/>
    public Tensor Apply(Tensor images, Random random)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(random);
        if (Factor == 0)
        {
            return images;
        }
        float[] factors = Enumerable.Range(0, (int)images.shape[0]).Select(_ => (float)(1 + random.Symmetric(Factor))).ToArray();
        using var scope = NewDisposeScope();
        var f = tensor(factors).view(-1, 1, 1, 1).to(images.device);
        var mean = images.mean([2, 3], keepdim: true);
        return ((images - mean) * f + mean).clamp_(0, 1).MoveToOuterDisposeScope();
    }
}
