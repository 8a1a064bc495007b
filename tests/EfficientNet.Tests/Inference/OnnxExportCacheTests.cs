using EfficientNet.Inference;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Inference;

/// <summary>ClassifierOptions.ExportCache: a weights file is exported to ONNX once and opened from the kept export afterwards.</summary>
public class OnnxExportCacheTests
{
    [Fact]
    public void SecondOpen_UsesTheKeptExport_AndClassifiesTheSame()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string cache = dir.File("cache");
        var options = new ClassifierOptions { ExportCache = cache };
        manual_seed(6);
        using var images = randn(2, 3, 64, 64);

        using var first = Classifier.Open(weights, options);
        string kept = Assert.Single(Directory.GetFiles(cache));
        Assert.EndsWith(".onnx", kept, StringComparison.Ordinal);
        var written = File.GetLastWriteTimeUtc(kept);
        using var second = Classifier.Open(weights, options);

        Assert.Single(Directory.GetFiles(cache));
        Assert.Equal(written, File.GetLastWriteTimeUtc(kept));
        Assert.Equal(EngineKind.OnnxRuntime, second.Engine.Kind);
        Assert.Equal(first.Info.ToMetadata(), second.Info.ToMetadata());
        using var expected = first.Engine.Logits(images);
        using var actual = second.Engine.Logits(images);
        Assert.True(actual.eq(expected).all().item<bool>(), "the kept export gives other logits");
    }

    [Fact]
    public void OtherWeightsOrOptions_GetTheirOwnExport_AndADamagedOneIsReplaced()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string cache = dir.File("cache");
        using (Classifier.Open(weights, new ClassifierOptions { ExportCache = cache }))
        {
        }
        string kept = Assert.Single(Directory.GetFiles(cache));

        // The same bytes under another name share the export; other options get another.
        File.Copy(weights, dir.File("copy.safetensors"));
        using (Classifier.Open(dir.File("copy.safetensors"), new ClassifierOptions { ExportCache = cache }))
        {
        }
        Assert.Single(Directory.GetFiles(cache));
        using (Classifier.Open(weights, new ClassifierOptions { ExportCache = cache, Variant = "b0" }))
        {
        }
        Assert.Equal(2, Directory.GetFiles(cache).Length);

        File.WriteAllBytes(kept, [1, 2, 3]);
        using var reopened = Classifier.Open(weights, new ClassifierOptions { ExportCache = cache });
        Assert.Equal(12, reopened.Info.NumClasses);
        Assert.True(new FileInfo(kept).Length > 1000, "the damaged export was not replaced");
    }

    [Fact]
    public void TheTorchEngine_KeepsNothing()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        using (Classifier.Open(weights, new ClassifierOptions { ExportCache = dir.File("cache"), Engine = EngineKind.Torch }))
        {
        }
        Assert.False(Directory.Exists(dir.File("cache")));
    }
}
