namespace EfficientNet.Architecture;

/// <summary>The EfficientNet generation a variant belongs to.</summary>
public enum ModelFamily
{
    /// <summary>EfficientNet B0–B7 (Tan &amp; Le, 2019).</summary>
    V1,

    /// <summary>EfficientNetV2 (Tan &amp; Le, 2021).</summary>
    V2,
}

/// <summary>
/// Everything that defines one named variant: its scaled stage table, head width, regularisation and
/// BatchNorm settings, and the published facts it is checked against.
/// </summary>
/// <param name="Name">Registry key, e.g. "b0".</param>
/// <param name="DisplayName">Human name, e.g. "EfficientNet-B0".</param>
/// <param name="Family">V1 or V2.</param>
/// <param name="Width">Width multiplier the stage table was scaled by.</param>
/// <param name="Depth">Depth multiplier the stage table was scaled by.</param>
/// <param name="Resolution">Native input resolution (square).</param>
/// <param name="Dropout">Default dropout before the classifier.</param>
/// <param name="BatchNormEps">BatchNorm epsilon (torchvision's value for this variant).</param>
/// <param name="BatchNormMomentum">BatchNorm momentum in PyTorch's convention (weight of the new batch).</param>
/// <param name="Stages">Scaled stages; the stem outputs <c>Stages[0].InputChannels</c>.</param>
/// <param name="HeadChannels">Channels of the final 1x1 conv before pooling.</param>
/// <param name="ReferenceParams">torchvision's exact parameter count at 1000 classes; null where torchvision lacks the variant (V2-B0…B3, built from Keras's tables).</param>
/// <param name="PublishedTop1">Published ImageNet top-1 accuracy (percent); <see cref="Top1Source"/> says where.</param>
public sealed record VariantSpec(
    string Name,
    string DisplayName,
    ModelFamily Family,
    double Width,
    double Depth,
    int Resolution,
    double Dropout,
    double BatchNormEps,
    double BatchNormMomentum,
    IReadOnlyList<StageConfig> Stages,
    int HeadChannels,
    long? ReferenceParams,
    double PublishedTop1)
{
    /// <summary>Where <see cref="PublishedTop1"/> is published, e.g. "EfficientNet paper, Table 2".</summary>
    public required string Top1Source { get; init; }

    /// <summary>Output channels of the stem conv.</summary>
    public int StemChannels => Stages[0].InputChannels;

    /// <summary>Total number of blocks over all stages (the stochastic-depth schedule's denominator).</summary>
    public int TotalBlocks => Stages.Sum(s => s.Layers);
}
