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

    /// <summary>BatchNorm of every EfficientNetV2 (torchvision: eps 1e-3, default momentum; Keras: momentum 0.9 = 0.1 here).</summary>
    private const double V2Eps = 1e-3;
    private const double V2Momentum = 0.1;

    private const int V2Head = 1280;

    // EfficientNetV2 stage tables: Table 4 of Tan & Le (2021), "EfficientNetV2: Smaller Models and
    // Faster Training", as torchvision's efficientnet_v2_s/m/l and Keras's DEFAULT_BLOCKS_ARGS encode
    // them. Fused-MBConv stages have no squeeze-and-excitation; MBConv stages use SE 0.25.
    private static readonly StageConfig[] V2S =
    [
        new(BlockKind.FusedMBConv, 1, 3, 1, 24, 24, 2),
        new(BlockKind.FusedMBConv, 4, 3, 2, 24, 48, 4),
        new(BlockKind.FusedMBConv, 4, 3, 2, 48, 64, 4),
        new(BlockKind.MBConv, 4, 3, 2, 64, 128, 6),
        new(BlockKind.MBConv, 6, 3, 1, 128, 160, 9),
        new(BlockKind.MBConv, 6, 3, 2, 160, 256, 15),
    ];

    private static readonly StageConfig[] V2M =
    [
        new(BlockKind.FusedMBConv, 1, 3, 1, 24, 24, 3),
        new(BlockKind.FusedMBConv, 4, 3, 2, 24, 48, 5),
        new(BlockKind.FusedMBConv, 4, 3, 2, 48, 80, 5),
        new(BlockKind.MBConv, 4, 3, 2, 80, 160, 7),
        new(BlockKind.MBConv, 6, 3, 1, 160, 176, 14),
        new(BlockKind.MBConv, 6, 3, 2, 176, 304, 18),
        new(BlockKind.MBConv, 6, 3, 1, 304, 512, 5),
    ];

    private static readonly StageConfig[] V2L =
    [
        new(BlockKind.FusedMBConv, 1, 3, 1, 32, 32, 4),
        new(BlockKind.FusedMBConv, 4, 3, 2, 32, 64, 7),
        new(BlockKind.FusedMBConv, 4, 3, 2, 64, 96, 7),
        new(BlockKind.MBConv, 4, 3, 2, 96, 192, 10),
        new(BlockKind.MBConv, 6, 3, 1, 192, 224, 19),
        new(BlockKind.MBConv, 6, 3, 2, 224, 384, 25),
        new(BlockKind.MBConv, 6, 3, 1, 384, 640, 7),
    ];

    /// <summary>The V2-B0 base table (Keras's "efficientnetv2-b0"), which B1–B3 scale by width and depth.</summary>
    private static readonly StageConfig[] V2Base =
    [
        new(BlockKind.FusedMBConv, 1, 3, 1, 32, 16, 1),
        new(BlockKind.FusedMBConv, 4, 3, 2, 16, 32, 2),
        new(BlockKind.FusedMBConv, 4, 3, 2, 32, 48, 2),
        new(BlockKind.MBConv, 4, 3, 2, 48, 96, 3),
        new(BlockKind.MBConv, 6, 3, 1, 96, 112, 5),
        new(BlockKind.MBConv, 6, 3, 2, 112, 192, 8),
    ];

    // The V2 paper's own figures differ in places (V2-M: 85.1 there).
    private const string KerasTable = "Keras applications table";

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

        // V2-B0…B3: Keras's EfficientNetV2B0…B3 (width/depth, default size, dropout 0.2); top-1 from
        // the Keras applications table. No torchvision counterpart, so no exact reference count.
        V2B("v2-b0", 1.0, 1.0, 224, 78.7),
        V2B("v2-b1", 1.0, 1.1, 240, 79.8),
        V2B("v2-b2", 1.1, 1.2, 260, 80.5),
        V2B("v2-b3", 1.2, 1.4, 300, 82.0),

        // V2-S/M/L: torchvision's efficientnet_v2_s/m/l (dropout 0.2/0.3/0.4, train and eval sizes of
        // its weights: 384/480/480).
        V2("v2-s", V2S, 384, 0.2, 21_458_488, 83.9),
        V2("v2-m", V2M, 480, 0.3, 54_139_356, 85.3),
        V2("v2-l", V2L, 480, 0.4, 118_515_272, 85.7),
    ];

    /// <summary>All variants, in registry order.</summary>
    public static IReadOnlyList<VariantSpec> All { get; } = Array.AsReadOnly(Registry);

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

    /// <summary>"B0", "efficientnet_b0", "efficientnet-v2-s", "EfficientNetV2B0", "efficientnetv2-s" → registry keys.</summary>
    private static string Normalize(string name)
    {
        string key = name.Trim().ToLowerInvariant().Replace('_', '-');
        foreach (string prefix in new[] { "efficientnet-", "efficientnet" })
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                key = key[prefix.Length..];
                break;
            }
        }
        // "v2b0" (Keras's EfficientNetV2B0) and "v2s" → "v2-b0", "v2-s".
        return key.StartsWith("v2", StringComparison.Ordinal) && key.Length > 2 && key[2] != '-' ? "v2-" + key[2..] : key;
    }

    private static VariantSpec V2B(string name, double width, double depth, int resolution, double top1) =>
        new(
            name,
            $"EfficientNetV2-{name[3..].ToUpperInvariant()}",
            ModelFamily.V2,
            width,
            depth,
            resolution,
            0.2,
            V2Eps,
            V2Momentum,
            V2Base.Select(s => s.Scale(width, depth, neverLoseTenPercent: false)).ToArray(),
            ChannelScaling.RoundFilters(V2Head, width, neverLoseTenPercent: false),
            null,
            top1)
        { Top1Source = KerasTable };

    private static VariantSpec V2(string name, StageConfig[] stages, int resolution, double dropout, long referenceParams, double top1) =>
        new(name, $"EfficientNetV2-{name[3..].ToUpperInvariant()}", ModelFamily.V2, 1.0, 1.0, resolution, dropout, V2Eps, V2Momentum, stages, V2Head, referenceParams, top1)
        { Top1Source = KerasTable };

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
            top1)
        { Top1Source = "EfficientNet paper, Table 2" };
}
