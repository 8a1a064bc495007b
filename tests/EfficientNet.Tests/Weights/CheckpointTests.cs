using EfficientNet.IO;
using EfficientNet.Models;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Weights;

public class CheckpointTests
{
    [Fact]
    public void SaveThenLoad_RebuildsTheSameModelWithoutFlags()
    {
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 3, CifarStem = true, Dropout = 0.25 });
        string[] names = ["cat", "dog", "fox"];
        ModelCheckpoint.Save(model, path, names);

        using var loaded = ModelLoader.Load(path);
        Assert.Equal(WeightsFormat.Safetensors, loaded.Format);
        Assert.Equal(names, loaded.ClassNames);
        Assert.Equal(model.Options, loaded.Model.Options);
        Assert.Equal("b0", loaded.Model.Spec.Name);
        var expected = StateDict.Ordered(model);
        var actual = StateDict.Ordered(loaded.Model);
        Assert.Equal(expected.Select(kv => kv.Key), actual.Select(kv => kv.Key));
        foreach (var (e, a) in expected.Zip(actual))
        {
            TensorAssert.Identical(e.Value, a.Value);
        }
    }

    [Fact]
    public void Save_WritesTorchvisionKeyOrderAndPythonReadableMetadata()
    {
        using var dir = new TempDir();
        string path = dir.File("b0.safetensors");
        using var model = EfficientNetModel.Create("b0");
        ModelCheckpoint.Save(model, path);
        using var file = WeightsFile.Read(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(TorchvisionFixtures.State("efficientnet_b0").Select(s => s.Key).Order(), file.Tensors.Keys.Order());
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void Load_CheckpointWithOtherVariant_SaysWhichVariantItHolds()
    {
        using var dir = new TempDir();
        string path = dir.File("b0.safetensors");
        using (var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10 }))
        {
            ModelCheckpoint.Save(model, path);
        }
        var e = Assert.Throws<EfficientNetException>(() => ModelLoader.Load(path, new LoadOptions { Variant = "b1" }));
        Assert.Contains("checkpoint of b0, not b1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_TorchvisionB0FileAsB1_ListsMismatchesAndHintsAtVariant()
    {
        var e = Assert.Throws<WeightsMismatchException>(() =>
            ModelLoader.Load(TorchvisionFixtures.Path("efficientnet_b0.pth"), new LoadOptions { Variant = "b1" }));
        Assert.NotEmpty(e.Missing);
        Assert.Empty(e.Unexpected);
        Assert.Contains("features.2.2.block.0.0.weight", e.Missing);
        Assert.Contains("another variant", e.Message, StringComparison.Ordinal);
        Assert.Contains("efficientnet_b0.pth", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_1000ClassFileInto10Classes_NeedsSkipClassifierThenKeepsBackbone()
    {
        string path = TorchvisionFixtures.Path("efficientnet_b0.safetensors");
        var e = Assert.Throws<EfficientNetException>(() => ModelLoader.Load(path, new LoadOptions { Variant = "b0", NumClasses = 10 }));
        Assert.Contains("SkipClassifier", e.Message, StringComparison.Ordinal);

        using var loaded = ModelLoader.Load(path, new LoadOptions { Variant = "b0", NumClasses = 10, SkipClassifier = true });
        Assert.Equal(10, loaded.Model.NumClasses);
        using var file = WeightsFile.Read(path);
        TensorAssert.Identical(file.Tensors["features.8.1.running_var"], loaded.Model.state_dict()["features.8.1.running_var"]);
        Assert.Equal(new long[] { 10, 1280 }, loaded.Model.state_dict()["classifier.1.weight"].shape);
    }

    [Fact]
    public void StateDictLoader_OnlyClassifierShapesDiffer_SuggestsSkippingIt()
    {
        using var source = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 5 });
        using var target = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 7 });
        var e = Assert.Throws<WeightsMismatchException>(() =>
            StateDictLoader.Load(target, source.state_dict(), "five.safetensors", "EfficientNet-B0 with 7 classes"));
        Assert.Equal(2, e.Mismatched.Count);
        Assert.Contains("another number of classes", e.Message, StringComparison.Ordinal);
        Assert.Contains("classifier.1.weight: file [5, 1280] vs model [7, 1280]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StateDictLoader_Mismatch_CopiesNothing()
    {
        using var source = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 5 });
        using var target = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 7 });
        var stemBefore = target.state_dict()["features.0.0.weight"].clone();
        Assert.Throws<WeightsMismatchException>(() => StateDictLoader.Load(target, source.state_dict(), "a", "b"));
        TensorAssert.Identical(stemBefore, target.state_dict()["features.0.0.weight"]);
    }

    [Fact]
    public void Load_PlainStateDictWithoutVariant_AsksForIt()
    {
        var e = Assert.Throws<EfficientNetException>(() => ModelLoader.Load(TorchvisionFixtures.Path("efficientnet_b0.pth")));
        Assert.Contains("LoadOptions.Variant", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_MissingFile_NamesIt()
    {
        var e = Assert.Throws<EfficientNetException>(() => WeightsFile.Read("/nonexistent/weights.pth"));
        Assert.Equal("weights file not found: '/nonexistent/weights.pth'", e.Message);
    }

    [Fact]
    public void Read_GarbageFile_SaysWhatFormatsAreExpected()
    {
        using var dir = new TempDir();
        string path = dir.File("garbage.pth");
        File.WriteAllText(path, "this is not a weights file");
        var e = Assert.Throws<EfficientNetException>(() => WeightsFile.Read(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("neither a PyTorch state dict", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TruncatedSafetensors_ReportsCorruptionWithPath()
    {
        using var dir = new TempDir();
        string cut = HalfCheckpoint(dir, new EfficientNetOptions { NumClasses = 2 });
        var e = Assert.Throws<EfficientNetException>(() => ModelLoader.Load(cut));
        Assert.Contains("cut.safetensors", e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TruncatedPyTorchFile_ReportsCorruptionWithPath()
    {
        using var dir = new TempDir();
        byte[] bytes = File.ReadAllBytes(TorchvisionFixtures.Path("efficientnet_b0.pth"));
        string cut = dir.File("cut.pth");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 3)]);
        var e = Assert.Throws<EfficientNetException>(() => ModelLoader.Load(cut, new LoadOptions { Variant = "b0" }));
        Assert.Contains("cut.pth", e.Message, StringComparison.Ordinal);
        Assert.Contains("corrupt", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_SafetensorsFailingPartWay_FreesTheTensorsAlreadyRead()
    {
        using var dir = new TempDir();
        string cut = HalfCheckpoint(dir, new EfficientNetOptions { NumClasses = 2 });
        long before = Tensor.TotalCount;
        Assert.Throws<EfficientNetException>(() => WeightsFile.Read(cut));
        Assert.Equal(before, Tensor.TotalCount);
    }

    [Fact]
    public void Read_PyTorchFileWithANonTensorEntry_FreesTheTensorsItUnpickled()
    {
        using var dir = new TempDir();
        string path = dir.File("mixed.pth");
        PythonScript.Run("import sys, torch; torch.save({'a.weight': torch.ones(3), 'b.weight': torch.zeros(2), 'epoch': 5}, sys.argv[1])", path);
        long before = Tensor.TotalCount;
        var e = Assert.Throws<EfficientNetException>(() => WeightsFile.Read(path));
        Assert.Contains("'epoch' is a", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Tensor.TotalCount);
    }

    [Fact]
    public void ReadInfo_ReadsTheHeaderOnly()
    {
        using var dir = new TempDir();
        // The tensor data is cut off: anything that read the whole file would fail.
        string cut = HalfCheckpoint(dir, new EfficientNetOptions { NumClasses = 3, CifarStem = true }, ["cat", "dog", "fox"]);

        var info = ModelCheckpoint.ReadInfo(cut)!;
        Assert.Equal("b0", info.Variant);
        Assert.Equal(["cat", "dog", "fox"], info.ClassNames);
        var resolved = Trainer.Resolve(new TrainOptions { InitialWeights = cut, Dataset = DatasetKind.Folder });
        Assert.True(resolved.CifarStem);
        Assert.Equal(32, resolved.Resolution);

        // A PyTorch archive has no description; its pickle is not even opened.
        string pth = dir.File("state.pth");
        File.WriteAllBytes(pth, [.. "PK\u0003\u0004"u8, .. new byte[100]]);
        Assert.Null(ModelCheckpoint.ReadInfo(pth));
        // Its variant must be named: b0 is not assumed.
        var e = Assert.Throws<EfficientNetException>(() => Trainer.Resolve(new TrainOptions { InitialWeights = pth, Dataset = DatasetKind.Folder }));
        Assert.Contains("is a plain state dict without a model description; say which variant it is with LoadOptions.Variant (b0, b1", e.Message, StringComparison.Ordinal);
        Assert.Equal("b1", Trainer.Resolve(new TrainOptions { InitialWeights = pth, Dataset = DatasetKind.Folder, Variant = "b1" }).Variant);
    }

    [Fact]
    public void AtomicWrite_FailingWriter_LeavesOldFileAndNoTemporaries()
    {
        using var dir = new TempDir();
        string path = dir.File("keep.txt");
        File.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("partial"u8);
            throw new InvalidOperationException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(dir.Path));
    }

    /// <summary>A B0 checkpoint cut to its first half (header intact, tensor data truncated) as dir/cut.safetensors.</summary>
    private static string HalfCheckpoint(TempDir dir, EfficientNetOptions options, IReadOnlyList<string>? classNames = null)
    {
        string full = dir.File("full.safetensors");
        using (var model = EfficientNetModel.Create("b0", options))
        {
            ModelCheckpoint.Save(model, full, classNames);
        }
        byte[] bytes = File.ReadAllBytes(full);
        string cut = dir.File("cut.safetensors");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        return cut;
    }
}
