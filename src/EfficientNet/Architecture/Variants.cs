namespace EfficientNet.Architecture;

/// <summary>The registry of named EfficientNet variants.</summary>
public static class Variants
{
    /// <summary>BatchNorm settings of torchvision's B0–B4 (PyTorch defaults).</summary>
    private const double TorchEps = 1e-5;
    private const double TorchMomentum = 0.1;

    /// <summary>BatchNorm settings of torchvision's B5–B7, which match the TensorFlow originals.</summary>
    private const double TfEps = 1e-3;
    private const double TfMomentum = 0.01;

    /// <summary>
    /// EfficientNet-B0 baseline, Table 1 of Tan &amp; Le (2019), "EfficientNet: Rethinking Model Scaling
    /// for Convolutional Neural Networks": the stem is a 3x3 stride-2 conv to 32 channels; the head a
    /// 1x1 conv to 1280.
    /// </summary>
    private static readonly StageConfig[] V1Base =
    [
        new(BlockKind.MBConv, 1, 3, 1, 32, 16, 1),
        new(BlockKind.MBConv, 6, 3, 2, 16, 24, 2),
        new(BlockKind.MBConv, 6, 5, 2, 24, 40, 2),
        new(BlockKind.MBConv, 6, 3, 2, 40, 80, 3),
        new(BlockKind.MBConv, 6, 5, 1, 80, 112, 3),
        new(BlockKind.MBConv, 6, 5, 2, 112, 192, 4),
        new(BlockKind.MBConv, 6, 3, 1, 192, 320, 1),
    ];

    private const int V1BaseHead = 1280;

    private static readonly VariantSpec[] Registry =
    [
        // Width, depth, resolution and dropout: the paper's coefficients as used by the reference code
        // (Keras efficientnet.py, torchvision efficientnet_b*); parameter counts: torchvision 0.14.
        V1("b0", 1.0, 1.0, 224, 0.2, TorchEps, TorchMomentum, 5_288_548, 77.1),
        V1("b1", 1.0, 1.1, 240, 0.2, TorchEps, TorchMomentum, 7_794_184, 79.1),
        V1("b2", 1.1, 1.2, 260, 0.3, TorchEps, TorchMomentum, 9_109_994, 80.1),
        V1("b3", 1.2, 1.4, 300, 0.3, TorchEps, TorchMomentum, 12_233_232, 81.6),
        V1("b4", 1.4, 1.8, 380, 0.4, TorchEps, TorchMomentum, 19_341_616, 82.9),
        V1("b5", 1.6, 2.2, 456, 0.4, TfEps, TfMomentum, 30_389_784, 83.6),
        V1("b6", 1.8, 2.6, 528, 0.5, TfEps, TfMomentum, 43_040_704, 84.0),
        V1("b7", 2.0, 3.1, 600, 0.5, TfEps, TfMomentum, 66_347_960, 84.3),
    ];

    /// <summary>All variants, in registry order.</summary>
    public static IReadOnlyList<VariantSpec> All => Registry;

    /// <summary>The valid names, for help texts and error messages.</summary>
    public static IReadOnlyList<string> Names => Registry.Select(v => v.Name).ToArray();

    /// <summary>
    /// Looks a variant up by name. Accepts "b0", "B0", "efficientnet-b0" and "efficientnet_b0".
    /// </summary>
    /// <exception cref="EfficientNetException">The name is not a known variant; the message lists the valid ones.</exception>
    public static VariantSpec Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = Normalize(name);
        return Registry.FirstOrDefault(v => v.Name == key)
            ?? throw new EfficientNetException(
                $"unknown variant '{name}'; valid variants: {string.Join(", ", Names)}");
    }

    private static string Normalize(string name)
    {
        string key = name.Trim().ToLowerInvariant().Replace('_', '-');
        return key.StartsWith("efficientnet-", StringComparison.Ordinal) ? key["efficientnet-".Length..] : key;
    }

    private static VariantSpec V1(
        string name, double width, double depth, int resolution, double dropout,
        double eps, double momentum, long referenceParams, double top1) =>
        new(
            name,
            $"EfficientNet-{name.ToUpperInvariant()}",
            ModelFamily.V1,
            width,
            depth,
            resolution,
            dropout,
            eps,
            momentum,
            V1Base.Select(s => s.Scale(width, depth)).ToArray(),
            ChannelScaling.RoundFilters(V1BaseHead, width),
            referenceParams,
            top1);
}
