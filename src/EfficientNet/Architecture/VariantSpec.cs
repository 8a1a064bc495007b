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
/// Everything that defines one named variant: its scaled stage table (internal: the model builder's), head width,
/// regularisation and BatchNorm settings, and the published facts it is checked against.
/// </summary>
public sealed record VariantSpec
{
    internal VariantSpec(
        string name,
        string displayName,
        ModelFamily family,
        double width,
        double depth,
        int resolution,
        double dropout,
        double batchNormEps,
        double batchNormMomentum,
        IReadOnlyList<StageConfig> stages,
        int headChannels,
        long? referenceParams,
        double publishedTop1)
    {
        (Name, DisplayName, Family, Width, Depth, Resolution, Dropout) = (name, displayName, family, width, depth, resolution, dropout);
        (BatchNormEps, BatchNormMomentum, Stages, HeadChannels, ReferenceParams, PublishedTop1) = (batchNormEps, batchNormMomentum, stages, headChannels, referenceParams, publishedTop1);
    }

    /// <summary>Registry key, e.g. "b0".</summary>
    public string Name { get; init; }

    /// <summary>Human name, e.g. "EfficientNet-B0".</summary>
    public string DisplayName { get; init; }

    /// <summary>V1 or V2.</summary>
    public ModelFamily Family { get; init; }

    /// <summary>Width multiplier the stage table was scaled by.</summary>
    public double Width { get; init; }

    /// <summary>Depth multiplier the stage table was scaled by.</summary>
    public double Depth { get; init; }

    /// <summary>Native input resolution (square).</summary>
    public int Resolution { get; init; }

    /// <summary>Default dropout before the classifier.</summary>
    public double Dropout { get; init; }

    /// <summary>BatchNorm epsilon (torchvision's value for this variant).</summary>
    public double BatchNormEps { get; init; }

    /// <summary>BatchNorm momentum in PyTorch's convention (weight of the new batch).</summary>
    public double BatchNormMomentum { get; init; }

    /// <summary>Scaled stages; the stem outputs <c>Stages[0].InputChannels</c>.</summary>
    internal IReadOnlyList<StageConfig> Stages { get; init; }

    /// <summary>Channels of the final 1x1 conv before pooling.</summary>
    public int HeadChannels { get; init; }

    /// <summary>torchvision's exact parameter count at 1000 classes; null where torchvision lacks the variant (V2-B0…B3, built from Keras's tables).</summary>
    public long? ReferenceParams { get; init; }

    /// <summary>Published ImageNet top-1 accuracy (percent); <see cref="Top1Source"/> says where.</summary>
    public double PublishedTop1 { get; init; }

    /// <summary>Where <see cref="PublishedTop1"/> is published, e.g. "EfficientNet paper, Table 2".</summary>
    public required string Top1Source { get; init; }

    /// <summary>Output channels of the stem conv.</summary>
    public int StemChannels => Stages[0].InputChannels;

    /// <summary>Total number of blocks over all stages (the stochastic-depth schedule's denominator).</summary>
    public int TotalBlocks => Stages.Sum(s => s.Layers);
}
