using EfficientNet.Analysis;
using EfficientNet.Architecture;
using EfficientNet.Cli.Analysis;
using EfficientNet.Models;

namespace EfficientNet.Tests.Analysis;

public class SummaryTests
{
    [Fact]
    public void Summarize_B0At224_MacsWithinTwoPercentOfTorchvision()
    {
        using var model = EfficientNetModel.Create("b0");
        var report = ModelSummary.Summarize(model, 224);
        Assert.InRange(report.Macs / 0.386e9, 0.98, 1.02);
        Assert.Equal(5_288_548, report.Params);
        Assert.Equal(report.Params, report.Layers.Sum(l => l.Params));
        Assert.Equal(report.Params, report.TrainableParams);
        Assert.Equal(0, report.FrozenParams);
    }

    [Fact]
    public void Summarize_LayersHaveTorchvisionNamesAndShapes()
    {
        using var model = EfficientNetModel.Create("b0");
        var report = ModelSummary.Summarize(model, 224);
        var stem = report.Layers[0];
        Assert.Equal(("features.0.0", "Conv2d"), (stem.Name, stem.Type));
        Assert.Equal(new long[] { 32, 112, 112 }, stem.OutputShape);
        Assert.Equal(32 * 3 * 3 * 3, stem.Params);
        Assert.Equal(112L * 112 * 32 * 27, stem.Macs);
        Assert.Equal(("features.0.1", "BatchNorm2d"), (report.Layers[1].Name, report.Layers[1].Type));
        Assert.Equal(("features.0.2", "SiLU"), (report.Layers[2].Name, report.Layers[2].Type));
        Assert.Contains(report.Layers, l => l.Name == "features.1.0.block.1.fc1" && l.OutputShape.SequenceEqual(new long[] { 8, 1, 1 }));
        Assert.Equal(new long[] { 1000 }, report.Layers[^1].OutputShape);
        Assert.Equal("classifier.1", report.Layers[^1].Name);
    }

    [Fact]
    public void Summarize_FrozenBackbone_SplitsTrainableAndFrozen()
    {
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10 });
        foreach (var p in model.Features.parameters())
        {
            p.requires_grad = false;
        }
        var report = ModelSummary.Summarize(model, 64);
        Assert.Equal(1280 * 10 + 10, report.TrainableParams);
        Assert.Equal(4_020_358 - 12_810, report.FrozenParams);
        Assert.True(model.training, "summary must restore the training mode");
    }

    [Fact]
    public void Measure_Variants_MacsGrowAndMatchPublishedScale()
    {
        // Paper's FLOPs (multiply-adds): B0 0.39B ... B7 37B; ours are measured, within 5%.
        var published = new[] { 0.39, 0.70, 1.0, 1.8, 4.2, 9.9, 19, 37 };
        var rows = VariantCatalog.Rows(ModelFamily.V1);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal(Variants.All[i].ReferenceParams!.Value, rows[i].Params);
            Assert.InRange(rows[i].Macs / 1e9 / published[i], 0.95, 1.05);
        }
    }

    [Fact]
    public void Compare_MeasuresTorchVisionBaselinesAndQuotesDenseNet()
    {
        var rows = ArchitectureComparison.Measure();
        var vgg = rows.Single(r => r.Name == "VGG-16");
        Assert.Equal(138_357_544, vgg.Params); // torchvision's vgg16
        Assert.InRange(vgg.Macs / 1e9, 15.3, 15.6);
        Assert.Equal(25_557_032, rows.Single(r => r.Name == "ResNet-50").Params);
        Assert.Equal(60_192_808, rows.Single(r => r.Name == "ResNet-152").Params);
        var dense = rows.Single(r => r.Name == "DenseNet-201");
        Assert.Equal(FigureSource.Quoted, dense.Source);
        var b0 = rows.Single(r => r.Name == "EfficientNet-B0");
        Assert.Equal(FigureSource.Measured, b0.Source);
        Assert.Equal(77.1 / 5.288548, b0.Top1PerMillionParams, 1e-12); // the same division of doubles (params counted exactly)
        Assert.True(b0.Top1PerMillionParams > 4 * rows.Single(r => r.Name == "ResNet-50").Top1PerMillionParams);
    }

    [Fact]
    public void CompoundScaling_DefaultBases_AreThePapers()
    {
        Assert.Equal(1.9203, CompoundScaling.FlopsConstraint(1.2, 1.1, 1.15), 5e-5); // the published 1.9203 is 1.2 * 1.1^2 * 1.15^2 = 1.920270 rounded to 4 decimals
        var rows = CompoundScaling.Table();
        Assert.Equal(8, rows.Count);
        Assert.Equal(new[] { 224, 264, 296, 344, 392, 456, 520, 600 }, rows.Select(r => r.Resolution));
        Assert.Equal(Math.Pow(1.2, 7), rows[7].Depth, 1e-12); // the same power of doubles
        Assert.Equal("b3", rows[3].Published!.Name);
        Assert.Null(CompoundScaling.Table(phiMax: 9)[8].Published);
    }

    [Theory]
    [InlineData(0.9, 1.1, 1.15, 7)]
    [InlineData(1.2, 1.1, 1.15, -1)]
    [InlineData(1.2, double.NaN, 1.15, 7)]
    public void CompoundScaling_InvalidInput_Throws(double alpha, double beta, double gamma, int phiMax) =>
        Assert.Throws<EfficientNetException>(() => CompoundScaling.Table(alpha, beta, gamma, phiMax));
}
