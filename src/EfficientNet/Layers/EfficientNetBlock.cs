using EfficientNet.Architecture;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Layers;

/// <summary>
/// One EfficientNet block: MBConv (1x1 expand, kxk depthwise, squeeze-and-excitation, 1x1 project) or
/// Fused-MBConv (kxk expand, 1x1 project). When stride is 1 and channels are unchanged the block is a
/// residual whose branch goes through stochastic depth. Children are torchvision's: <c>block</c> is a
/// sequence indexed 0..n, so PyTorch weights load by key without a map.
/// </summary>
internal sealed class EfficientNetBlock : nn.Module<Tensor, Tensor>
{
    private readonly Sequential block;
    private readonly StochasticDepth stochastic_depth;
    private readonly bool useResidual;

    /// <summary>Builds the block for one (already scaled) configuration.</summary>
    /// <param name="kind">MBConv or Fused-MBConv.</param>
    /// <param name="expandRatio">Hidden width as a multiple of <paramref name="inChannels"/>.</param>
    /// <param name="kernel">Kernel size of the spatial conv.</param>
    /// <param name="stride">1 or 2.</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="stochasticDepth">Drop probability of the residual branch.</param>
    /// <param name="norm">BatchNorm settings.</param>
    public EfficientNetBlock(
        BlockKind kind,
        double expandRatio,
        int kernel,
        int stride,
        int inChannels,
        int outChannels,
        double stochasticDepth,
        BatchNormSettings norm)
        : base(nameof(EfficientNetBlock))
    {
        if (stride is not (1 or 2))
        {
            throw new EfficientNetException($"block stride must be 1 or 2, got {stride}");
        }
        useResidual = stride == 1 && inChannels == outChannels;
        InChannels = inChannels;
        OutChannels = outChannels;
        int hidden = ChannelScaling.RoundFilters(inChannels, expandRatio);
        block = kind == BlockKind.MBConv
            ? InvertedResidual(inChannels, hidden, outChannels, kernel, stride, norm)
            : FusedInvertedResidual(inChannels, hidden, outChannels, kernel, stride, norm);
        stochastic_depth = new StochasticDepth(stochasticDepth);
        RegisterComponents();
    }

    /// <summary>Channels into the block.</summary>
    public int InChannels { get; }

    /// <summary>Channels out of the block.</summary>
    public int OutChannels { get; }

    /// <summary>Whether the block adds its input back (stride 1, same channels).</summary>
    public bool HasResidual => useResidual;

    /// <summary>The block's layers in order (torchvision's <c>block</c>).</summary>
    internal Sequential Layers => block;

    /// <summary>The block's stochastic-depth drop probability.</summary>
    public double StochasticDepthProbability => stochastic_depth.Probability;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        var result = block.call(input);
        return useResidual ? stochastic_depth.call(result).add_(input) : result;
    }

    private static Sequential InvertedResidual(int inChannels, int hidden, int outChannels, int kernel, int stride, BatchNormSettings norm)
    {
        var layers = new List<nn.Module<Tensor, Tensor>>();
        if (hidden != inChannels)
        {
            layers.Add(new ConvNormActivation(inChannels, hidden, 1, 1, norm));
        }
        layers.Add(new ConvNormActivation(hidden, hidden, kernel, stride, norm, groups: hidden));
        // The squeeze width follows the block's input, not its expanded width (torchvision, Keras).
        layers.Add(new SqueezeExcitation(hidden, Math.Max(1, inChannels / 4)));
        layers.Add(new ConvNormActivation(hidden, outChannels, 1, 1, norm, activation: false));
        return nn.Sequential(layers);
    }

    private static Sequential FusedInvertedResidual(int inChannels, int hidden, int outChannels, int kernel, int stride, BatchNormSettings norm)
    {
        if (hidden == inChannels)
        {
            return nn.Sequential(new ConvNormActivation(inChannels, outChannels, kernel, stride, norm));
        }
        return nn.Sequential(
            new ConvNormActivation(inChannels, hidden, kernel, stride, norm),
            new ConvNormActivation(hidden, outChannels, 1, 1, norm, activation: false));
    }
}
