using EfficientNet.Analysis;
using EfficientNet.Architecture;
using EfficientNet.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Cli.Analysis;

/// <summary>Where a comparison row's size and cost come from.</summary>
internal enum FigureSource
{
    /// <summary>Parameters and MACs computed here on a model built in this process.</summary>
    Measured,

    /// <summary>Parameters and MACs quoted from Keras's EfficientNet tutorial (no model built).</summary>
    Quoted,
}

/// <summary>One architecture in the comparison.</summary>
/// <param name="Name">Architecture name.</param>
/// <param name="Resolution">Input resolution the MACs are for.</param>
/// <param name="Params">Parameters (1000 classes).</param>
/// <param name="Macs">Multiply-accumulates per image.</param>
/// <param name="PublishedTop1">Published ImageNet top-1 (always quoted, never measured here).</param>
/// <param name="Source">Whether params and MACs were measured or quoted.</param>
/// <param name="Top1Source">Where <paramref name="PublishedTop1"/> is quoted from.</param>
internal sealed record ComparisonRow(string Name, int Resolution, long Params, long Macs, double PublishedTop1, FigureSource Source, string Top1Source)
{
    /// <summary>Top-1 points per million parameters.</summary>
    public double Top1PerMillionParams => PublishedTop1 / (Params / 1e6);

    /// <summary>Top-1 points per billion multiply-accumulates.</summary>
    public double Top1PerGMac => PublishedTop1 / (Macs / 1e9);
}

/// <summary>
/// The architecture comparison of Keras's EfficientNet tutorial, with parameters and MACs measured on real models:
/// VGG-16, ResNet-50 and ResNet-152 from TorchSharp's TorchVision at 224x224, EfficientNet B0–B7 from
/// this library (V1 and V2) at their native resolutions. DenseNet-201 is not in TorchVision for .NET, so its
/// figures are quoted from the tutorial and labelled so.
/// </summary>
internal static class ArchitectureComparison
{
    /// <summary>Published top-1 accuracies the tutorial quotes.</summary>
    private static readonly (string Name, Func<nn.Module<Tensor, Tensor>> Build, double Top1)[] Baselines =
    [
        ("VGG-16", () => torchvision.models.vgg16(), 71.3),
        ("ResNet-50", () => torchvision.models.resnet50(), 76.0),
        ("ResNet-152", () => torchvision.models.resnet152(), 77.8),
    ];

    /// <summary>
    /// DenseNet-201 as the tutorial quotes it: 20.0M parameters, 4.3 billion multiply-accumulates (which
    /// it calls GFLOPs, as the papers do), 77.4% top-1.
    /// </summary>
    private static readonly ComparisonRow DenseNet201 = new("DenseNet-201", 224, 20_000_000, 4_300_000_000, 77.4, FigureSource.Quoted, Tutorial);

    private const string Tutorial = "Keras EfficientNet tutorial";

    private const int BaselineResolution = 224;

    /// <summary>Architectures <see cref="Measure"/> builds.</summary>
    public static int Count => Baselines.Length + Variants.All.Count;

    /// <summary>Builds and measures every architecture (tens of seconds: VGG-16 alone has 138M parameters), telling <paramref name="measuring"/> each one's name first.</summary>
    public static IReadOnlyList<ComparisonRow> Measure(Action<string>? measuring = null)
    {
        var rows = new List<ComparisonRow>();
        foreach (var (name, build, top1) in Baselines)
        {
            measuring?.Invoke(name);
            using var model = build();
            var report = ModelSummary.Summarize(model, BaselineResolution, name);
            rows.Add(new ComparisonRow(name, BaselineResolution, report.Params, report.Macs, top1, FigureSource.Measured, Tutorial));
        }
        rows.Add(DenseNet201);
        foreach (var spec in Variants.All)
        {
            measuring?.Invoke(spec.DisplayName);
            using var model = new EfficientNetModel(spec);
            var report = ModelSummary.Summarize(model, spec.Resolution, spec.DisplayName);
            rows.Add(new ComparisonRow(spec.DisplayName, spec.Resolution, report.Params, report.Macs, spec.PublishedTop1, FigureSource.Measured, spec.Top1Source));
        }
        return rows;
    }
}
