using EfficientNet.Analysis;
using EfficientNet.Architecture;

namespace EfficientNet.Cli.Analysis;

/// <summary>A variant's published settings beside the size and cost of the model this library builds.</summary>
/// <param name="Name">Registry name.</param>
/// <param name="DisplayName">Human name.</param>
/// <param name="Resolution">Native resolution.</param>
/// <param name="Width">Width multiplier.</param>
/// <param name="Depth">Depth multiplier.</param>
/// <param name="Dropout">Default dropout.</param>
/// <param name="Params">Parameters of the model at 1000 classes (exact, <see cref="ArchitectureCost"/>).</param>
/// <param name="Macs">Multiply-accumulates per image at the native resolution (exact, <see cref="ArchitectureCost"/>).</param>
/// <param name="PublishedTop1">Published ImageNet top-1 (not measured).</param>
/// <param name="Top1Source">Where <paramref name="PublishedTop1"/> is published.</param>
internal sealed record VariantRow(string Name, string DisplayName, int Resolution, double Width, double Depth, double Dropout, long Params, long Macs, double PublishedTop1, string Top1Source);

/// <summary>Each registered variant's row, its counts computed from its architecture table (no model is built).</summary>
internal static class VariantCatalog
{
    /// <summary>One row per variant, optionally of one family.</summary>
    public static IReadOnlyList<VariantRow> Rows(ModelFamily? family = null) =>
        Variants.All.Where(v => family is null || v.Family == family).Select(Row).ToArray();

    /// <summary>The row of one variant.</summary>
    public static VariantRow Row(VariantSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var cost = ModelSummary.FromTable(spec);
        return new VariantRow(spec.Name, spec.DisplayName, spec.Resolution, spec.Width, spec.Depth, spec.Dropout, cost.Params, cost.Macs, spec.PublishedTop1, spec.Top1Source);
    }
}
