using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Layers;

/// <summary>
/// Squeeze-and-excitation (Hu et al., 2018) as EfficientNet uses it: global average pool, 1x1 conv
/// down to <c>squeezeChannels</c>, SiLU, 1x1 conv back up, sigmoid gate on the input's channels.
/// Field names (<c>fc1</c>, <c>fc2</c>) are torchvision's state-dict keys.
/// </summary>
internal sealed class SqueezeExcitation : nn.Module<Tensor, Tensor>
{
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Conv2d fc1;
    private readonly Conv2d fc2;
    private readonly SiLU activation;
    private readonly Sigmoid scale_activation;

    /// <summary>Creates the block for <paramref name="channels"/> input channels.</summary>
    public SqueezeExcitation(long channels, long squeezeChannels)
        : base(nameof(SqueezeExcitation))
    {
        avgpool = nn.AdaptiveAvgPool2d(1);
        fc1 = new Conv2d(channels, squeezeChannels, 1);
        fc2 = new Conv2d(squeezeChannels, channels, 1);
        activation = new SiLU();
        scale_activation = nn.Sigmoid();
        RegisterComponents();
    }

    /// <summary>The 1x1 convolution that squeezes the pooled channels (torchvision's <c>fc1</c>).</summary>
    internal Conv2d Reduce => fc1;

    /// <summary>The 1x1 convolution back to the input's channels (torchvision's <c>fc2</c>).</summary>
    internal Conv2d Expand => fc2;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        var scale = scale_activation.call(fc2.call(activation.call(fc1.call(avgpool.call(input)))));
        return input * scale;
    }
}
