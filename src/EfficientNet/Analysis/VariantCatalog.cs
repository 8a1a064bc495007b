using EfficientNet.Architecture;
using EfficientNet.Models;

namespace EfficientNet.Analysis;

/// <summary>A variant's published settings beside the size and cost measured on the model we build.</summary>
/// <param name="Name">Registry name.</param>
/// <param name="DisplayName">Human name.</param>
/// <param name="Resolution">Native resolution.</param>
/// <param name="Width">Width multiplier.</param>
/// <param name="Depth">Depth multiplier.</param>
/// <param name="Dropout">Default dropout.</param>
/// <param name="Params">Parameters of the built model at 1000 classes (measured).</param>
/// <param name="Macs">Multiply-accumulates per image at the native resolution (measured).</param>
/// <param name="PublishedTop1">Published ImageNet top-1 (not measured).</param>
/// <param name="Top1Source">Where <paramref name="PublishedTop1"/> is published.</param>
internal sealed record VariantRow(string Name, string DisplayName, int Resolution, double Width, double Depth, double Dropout, long Params, long Macs, double PublishedTop1, string Top1Source);

/// <summary>Builds each registered variant and measures it.</summary>
internal static class VariantCatalog
{
    /// <summary>One row per variant (optionally one family), measured on freshly built models; <paramref name="measuring"/> is told each one's name first.</summary>
    public static IReadOnlyList<VariantRow> Measure(ModelFamily? family = null, Action<string>? measuring = null) =>
        Variants.All.Where(v => family is null || v.Family == family).Select(v =>
        {
            measuring?.Invoke(v.DisplayName);
            return Measure(v);
        }).ToArray();

    /// <summary>Measures one variant.</summary>
    public static VariantRow Measure(VariantSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        using var model = new EfficientNetModel(spec);
        var report = ModelSummary.Summarize(model, spec.Resolution);
        return new VariantRow(spec.Name, spec.DisplayName, spec.Resolution, spec.Width, spec.Depth, spec.Dropout, report.Params, report.Macs, spec.PublishedTop1, spec.Top1Source);
    }
}
