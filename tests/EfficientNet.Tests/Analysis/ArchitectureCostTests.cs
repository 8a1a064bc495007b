using EfficientNet.Analysis;
using EfficientNet.Architecture;
using EfficientNet.Cli.Analysis;
using EfficientNet.Models;

namespace EfficientNet.Tests.Analysis;

/// <summary>The counts <c>effnet variants</c> prints without building a model are those measured on the built one.</summary>
public class ArchitectureCostTests
{
    public static TheoryData<string> AllVariants => new(Variants.Names);

    [Theory]
    [MemberData(nameof(AllVariants))]
    public void Of_EqualsTheParamsAndMacsMeasuredOnTheBuiltModel(string variant)
    {
        var spec = Variants.Get(variant);
        // A small odd resolution keeps the measuring forward pass cheap and rounds every strided size; the arithmetic
        // is the same at the native one.
        using var model = new EfficientNetModel(spec, new EfficientNetOptions { NumClasses = 10 });
        var measured = ModelSummary.Summarize(model, 97);
        var computed = ArchitectureCost.Of(spec, 97, 10);
        Assert.Equal(measured.Params, computed.Params);
        Assert.Equal(measured.Macs, computed.Macs);
    }

    [Fact]
    public void Rows_AreTheRegistryWithTorchvisionsParameterCounts()
    {
        var rows = VariantCatalog.Rows();
        Assert.Equal(Variants.Names, rows.Select(r => r.Name));
        Assert.All(Variants.All.Zip(rows).Where(p => p.First.ReferenceParams is not null), p => Assert.Equal(p.First.ReferenceParams, p.Second.Params));
    }
}
