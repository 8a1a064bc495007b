using EfficientNet.Architecture;

namespace EfficientNet.Tests.Architecture;

public class VariantsTests
{
    [Theory]
    [InlineData("b0")]
    [InlineData("B0")]
    [InlineData("efficientnet-b0")]
    [InlineData("efficientnet_b0")]
    [InlineData(" EfficientNet_B0 ")]
    public void Get_Aliases_FindB0(string name) => Assert.Equal("b0", Variants.Get(name).Name);

    [Theory]
    [InlineData("v2-s", "v2-s")]
    [InlineData("efficientnet_v2_s", "v2-s")]
    [InlineData("EfficientNetV2S", "v2-s")]
    [InlineData("efficientnetv2-b0", "v2-b0")]
    [InlineData("EfficientNetV2B3", "v2-b3")]
    public void Get_V2Aliases_FindTheVariant(string name, string expected) => Assert.Equal(expected, Variants.Get(name).Name);

    [Fact]
    public void Registry_V2B3_UsesKerasRoundingWithoutTheTenPercentRule()
    {
        // Keras's EfficientNetV2 round_filters has no 10% rule: 16 x 1.2 = 19.2 rounds to 16.
        var b3 = Variants.Get("v2-b3");
        Assert.Equal(40, b3.StemChannels);
        Assert.Equal(16, b3.Stages[0].OutputChannels);
        Assert.Equal(1536, b3.HeadChannels);
        Assert.Equal(new[] { 2, 3, 3, 5, 7, 12 }, b3.Stages.Select(s => s.Layers));
    }

    [Fact]
    public void Get_Unknown_ListsValidNames()
    {
        var e = Assert.Throws<EfficientNetException>(() => Variants.Get("b9"));
        Assert.Contains("'b9'", e.Message);
        foreach (var name in Variants.Names)
        {
            Assert.Contains(name, e.Message);
        }
    }

    [Fact]
    public void Registry_B7_HasPaperScaledTable()
    {
        var b7 = Variants.Get("b7");
        Assert.Equal(64, b7.StemChannels);
        Assert.Equal(2560, b7.HeadChannels);
        Assert.Equal(new[] { 4, 7, 7, 10, 10, 13, 4 }, b7.Stages.Select(s => s.Layers));
        Assert.Equal(new[] { 32, 48, 80, 160, 224, 384, 640 }, b7.Stages.Select(s => s.OutputChannels));
        Assert.Equal(1e-3, b7.BatchNormEps);
        Assert.Equal(600, b7.Resolution);
    }

    [Fact]
    public void All_CannotBeChangedThroughTheList()
    {
        var list = (IList<VariantSpec>)Variants.All;
        Assert.Throws<NotSupportedException>(() => list[0] = list[1]);
        Assert.Equal("b0", Variants.All[0].Name);
    }

    [Fact]
    public void PublishedTop1_SaysWhereEachFigureComesFrom()
    {
        Assert.Equal("EfficientNet paper, Table 2", Variants.Get("b7").Top1Source);
        // 85.3 is Keras's figure for V2-M; the V2 paper gives 85.1.
        Assert.Equal((85.3, "Keras applications table"), (Variants.Get("v2-m").PublishedTop1, Variants.Get("v2-m").Top1Source));
        Assert.All(Variants.All.Where(v => v.Family == ModelFamily.V2), v => Assert.Equal("Keras applications table", v.Top1Source));
    }
}
