using EfficientNet.Imaging;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Weights;

public class PretrainedRegistryTests
{
    [Fact]
    public void Registry_CoversEveryTorchvisionVariantWithItsPreset()
    {
        var variants = PretrainedRegistry.All.Select(w => w.Variant).Distinct().ToList();
        Assert.Equal(new[] { "b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "v2-s", "v2-m", "v2-l" }, variants);
        foreach (var w in PretrainedRegistry.All)
        {
            Assert.Equal(EfficientNet.Architecture.Variants.Get(w.Variant).ReferenceParams, w.Params);
            Assert.Matches("^[0-9a-f]{8}$", w.Sha256Prefix);
            Assert.EndsWith($"-{w.Sha256Prefix}.pth", w.Url, StringComparison.Ordinal);
        }
        var b0 = PretrainedRegistry.Get("b0");
        Assert.Equal((256, 224, Interpolation.Bicubic), (b0.Preprocessing.ResizeSize, b0.Preprocessing.CropSize, b0.Preprocessing.Interpolation));
        Assert.Equal("IMAGENET1K_V2", PretrainedRegistry.Get("b1").Tag);
        Assert.Equal(new[] { 0.5f, 0.5f, 0.5f }, PretrainedRegistry.Get("v2-l").Preprocessing.Normalization.Std);
    }

    [Fact]
    public void Get_VariantWithoutWeightsOrUnknownTag_Explains()
    {
        Assert.Contains("load a weights file instead", Assert.Throws<EfficientNetException>(() => PretrainedRegistry.Get("v2-b0")).Message, StringComparison.Ordinal);
        Assert.Contains("IMAGENET1K_V1", Assert.Throws<EfficientNetException>(() => PretrainedRegistry.Get("b0", "V9")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnsureDownloaded_Offline_SaysWhereToPutTheFile()
    {
        using var cache = new TempDir();
        var weights = PretrainedRegistry.Get("b0");
        var e = Assert.Throws<EfficientNetException>(() => PretrainedRegistry.EnsureDownloaded(weights, cache.Path, null, null, _ => throw new HttpRequestException("no network")));
        Assert.Contains(PretrainedRegistry.CachePath(weights, cache.Path), e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(cache.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void EnsureDownloaded_ChecksumMismatch_RejectsAndLeavesNothing()
    {
        using var cache = new TempDir();
        var weights = PretrainedRegistry.Get("b0");
        var e = Assert.Throws<EfficientNetException>(() => PretrainedRegistry.EnsureDownloaded(weights, cache.Path, null, null, _ => new MemoryStream(new byte[1000])));
        Assert.Contains("does not start with the published 3dd342df", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("nothing was kept; try again, or another source", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".part", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(cache.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void EnsureDownloaded_DamagedCachedFile_IsReported()
    {
        using var cache = new TempDir();
        var weights = PretrainedRegistry.Get("b0");
        string path = PretrainedRegistry.CachePath(weights, cache.Path);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "damaged");
        var e = Assert.Throws<EfficientNetException>(() => PretrainedRegistry.EnsureDownloaded(weights, cache.Path, null, null, _ => throw new InvalidOperationException("must not download")));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Identify_UnregisteredFile_IsNull() =>
        Assert.Null(PretrainedRegistry.Identify(PretrainedRegistry.Sha256(TorchvisionFixtures.Path("efficientnet_b0.pth"))));

    [Fact]
    public void All_CannotBeChangedThroughTheList()
    {
        var list = (IList<PretrainedWeights>)PretrainedRegistry.All;
        Assert.Throws<NotSupportedException>(() => list[0] = list[1]);
        Assert.Equal("b0", PretrainedRegistry.All[0].Variant);
    }
}
