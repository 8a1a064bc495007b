namespace EfficientNet.Architecture;

/// <summary>The two block types of the EfficientNet family.</summary>
internal enum BlockKind
{
    /// <summary>Inverted residual: 1x1 expand, kxk depthwise, squeeze-and-excitation, 1x1 project (V1 paper, Table 1).</summary>
    MBConv,

    /// <summary>Fused inverted residual: kxk expand conv, 1x1 project, no depthwise and no SE (V2 paper, Table 4).</summary>
    FusedMBConv,
}

/// <summary>
/// One stage of an EfficientNet: <see cref="Layers"/> blocks of one kind. The first block takes
/// <see cref="InputChannels"/> at <see cref="Stride"/>; the rest take <see cref="OutputChannels"/> at stride 1.
/// Channel and layer counts are final (already scaled): modules never see a multiplier.
/// </summary>
/// <param name="Kind">Block type.</param>
/// <param name="ExpandRatio">Expansion of the block's input channels for the hidden (depthwise) width.</param>
/// <param name="Kernel">Kernel size of the depthwise (MBConv) or fused expand (Fused-MBConv) conv.</param>
/// <param name="Stride">Stride of the stage's first block.</param>
/// <param name="InputChannels">Channels into the stage.</param>
/// <param name="OutputChannels">Channels out of every block of the stage.</param>
/// <param name="Layers">Number of blocks.</param>
internal sealed record StageConfig(
    BlockKind Kind,
    double ExpandRatio,
    int Kernel,
    int Stride,
    int InputChannels,
    int OutputChannels,
    int Layers)
{
    /// <summary>Applies width and depth multipliers (torchvision's <c>MBConvConfig</c>, Keras's <c>round_filters</c>).</summary>
    public StageConfig Scale(double width, double depth, bool neverLoseTenPercent = true) => this with
    {
        InputChannels = ChannelScaling.RoundFilters(InputChannels, width, neverLoseTenPercent: neverLoseTenPercent),
        OutputChannels = ChannelScaling.RoundFilters(OutputChannels, width, neverLoseTenPercent: neverLoseTenPercent),
        Layers = ChannelScaling.RoundRepeats(Layers, depth),
    };
}
