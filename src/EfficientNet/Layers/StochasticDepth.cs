using static TorchSharp.torch;

namespace EfficientNet.Layers;

/// <summary>
/// Stochastic depth (Huang et al., 2016) in "row" mode: during training each sample's residual branch
/// is dropped with probability <see cref="Probability"/> and the survivors are scaled by 1/(1-p), so
/// the expected output is unchanged; in evaluation it is the identity.
/// </summary>
internal sealed class StochasticDepth : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the layer with drop probability <paramref name="probability"/> in [0, 1).</summary>
    public StochasticDepth(double probability)
        : base(nameof(StochasticDepth))
    {
        if (probability is < 0 or >= 1)
        {
            throw new EfficientNetException($"stochastic depth probability must be in [0, 1), got {probability}");
        }
        Probability = probability;
    }

    /// <summary>Drop probability of this block's residual branch.</summary>
    public double Probability { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        if (!training || Probability == 0)
        {
            return input;
        }
        double survival = 1 - Probability;
        using var keep = empty([input.shape[0], 1, 1, 1], dtype: input.dtype, device: input.device).bernoulli_(survival);
        return input * keep.div_(survival);
    }
}
