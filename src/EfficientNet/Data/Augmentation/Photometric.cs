using static TorchSharp.torch;

namespace EfficientNet.Data.Augmentation;

/// <summary>
/// Keras RandomContrast(f): per image a factor uniform in 1 ± f, each channel moved away from (or
/// towards) its own mean by that factor, then clipped to [0, 1].
/// </summary>
internal sealed record RandomContrast(double Factor) : IBatchTransform
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

/// <summary>
/// Cutout (DeVries &amp; Taylor, 2017): per image, a <see cref="Size"/> x <see cref="Size"/> square centred at a
/// uniformly random pixel (clipped at the borders, so it may be partly outside) is filled with mid-grey 0.5, close to
/// the mean of natural images, so after normalisation it is near zero as in the paper.
/// </summary>
internal sealed record Cutout(int Size) : IBatchTransform
{
    /// <inheritdoc/>
    public Tensor Apply(Tensor images, Random random)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(random);
        if (Size == 0)
        {
            return images;
        }
        int n = (int)images.shape[0], h = (int)images.shape[2], w = (int)images.shape[3];
        var result = images.clone();
        using var scope = NewDisposeScope();
        for (int i = 0; i < n; i++)
        {
            int y = random.Next(h), x = random.Next(w);
            int top = Math.Max(0, y - Size / 2), left = Math.Max(0, x - Size / 2);
            int bottom = Math.Min(h, y - Size / 2 + Size), right = Math.Min(w, x - Size / 2 + Size);
            result[i, .., top..bottom, left..right].fill_(0.5);
        }
        return result;
    }
}
