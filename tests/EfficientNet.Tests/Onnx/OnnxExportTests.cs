using EfficientNet.Inference.Engines;
using EfficientNet.Inference;
using EfficientNet.Models;
using EfficientNet.Onnx;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Onnx;

/// <summary>Exported graphs pass onnx.checker and give TorchSharp's logits in ONNX Runtime.</summary>
public class OnnxExportTests
{
    /// <summary>ONNX Runtime's logits must be within this share of the largest TorchSharp logit.</summary>
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData("b0", false, HeadKind.Linear, 1000, null)]
    [InlineData("b3", false, HeadKind.Linear, 1000, 300)]
    [InlineData("v2-s", false, HeadKind.Linear, 1000, null)]
    [InlineData("b0", true, HeadKind.Linear, 10, null)]
    [InlineData("b0", true, HeadKind.Mlp, 12, 64)]
    public void Export_RunInOnnxRuntime_MatchesTorchSharpLogits(string variant, bool cifar, HeadKind head, int classes, int? resolution)
    {
        manual_seed(11);
        using var model = TestModels.PretrainedLike(variant, new EfficientNetOptions { CifarStem = cifar, Head = head, NumClasses = classes, Resolution = resolution });
        using var dir = new TempDir();
        string path = dir.File("model.onnx");
        OnnxExporter.Export(model, path, new OnnxExportOptions());
        OnnxChecker.AssertValid(path);

        using var input = randn(3, 3, model.Resolution, model.Resolution);
        using var expected = ReferenceLogits(model, input);
        using var engine = OnnxRuntimeEngine.FromFile(path, threads: 2);
        using var actual = engine.Logits(input);
        AssertSameLogits(expected, actual);
    }

    public static TheoryData<string> AllVariants() => [.. EfficientNet.Architecture.Variants.Names];

    [Theory]
    [MemberData(nameof(AllVariants))]
    public void Export_EveryVariant_RunsInOnnxRuntimeWithTorchSharpsLogits(string variant)
    {
        // With the CIFAR stem at 32x32, so that the largest models stay cheap and the last maps keep 2x2
        // pixels for the BatchNorm statistics; the mapping does not depend on the resolution.
        manual_seed(3);
        using var model = TestModels.PretrainedLike(variant, new EfficientNetOptions { NumClasses = 10, CifarStem = true });
        using var input = randn(2, 3, 32, 32);
        using var expected = ReferenceLogits(model, input);
        using var engine = OnnxRuntimeEngine.FromBytes(OnnxExporter.ToBytes(model, new OnnxExportOptions()), variant, threads: 2);
        using var actual = engine.Logits(input);
        AssertSameLogits(expected, actual);
    }

    [Fact]
    public void Logits_OfAViewAnotherDtypeOrAStridedTensor_AreThoseOfThePlainTensor()
    {
        // The engine copies the input out of the tensor's storage (OnnxRuntimeEngine.CopyInto): a view that starts
        // inside a larger tensor must give its own images' logits, and other tensors are made dense float32 first.
        manual_seed(5);
        using var model = TestModels.PretrainedLike("b0", new EfficientNetOptions { NumClasses = 10, CifarStem = true });
        using var engine = OnnxRuntimeEngine.FromBytes(OnnxExporter.ToBytes(model, new OnnxExportOptions()), "b0", threads: 2);
        using var all = randn(5, 3, 32, 32);
        using var middle = all.narrow(0, 2, 2);
        using var plain = middle.clone();
        using var expected = engine.Logits(plain);
        using var transposedStorage = plain.transpose(2, 3).contiguous();
        using var strided = transposedStorage.transpose(2, 3);
        using var asDouble = plain.to(float64);

        Assert.False(strided.is_contiguous());
        foreach (var input in new[] { middle, strided, asDouble })
        {
            using var actual = engine.Logits(input);
            Assert.Equal(expected.data<float>().ToArray(), actual.data<float>().ToArray());
        }
    }

    [Fact]
    public void Export_WithAWrongBatchNormEps_WouldBeCaught()
    {
        // Negative control: folding one layer's BatchNorm with another eps moves the logits far beyond the
        // tolerance, so a folding mistake in the exporter cannot pass unnoticed.
        manual_seed(11);
        using var model = TestModels.PretrainedLike("b0", new EfficientNetOptions { CifarStem = true, NumClasses = 10 });
        using var input = randn(3, 3, 32, 32);
        using var expected = ReferenceLogits(model, input);
        var norm = model.modules().OfType<TorchSharp.Modules.BatchNorm2d>().ElementAt(5);
        norm.eps = 0.1;
        using var engine = OnnxRuntimeEngine.FromBytes(OnnxExporter.ToBytes(model, new OnnxExportOptions()), "wrong eps");
        using var actual = engine.Logits(input);
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertSameLogits(expected, actual));
    }

    internal static Tensor ReferenceLogits(EfficientNetModel model, Tensor input)
    {
        using var noGrad = no_grad();
        model.eval();
        return model.call(input);
    }

    internal static void AssertSameLogits(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        double largest = expected.abs().max().item<float>();
        double error = (actual - expected).abs().max().item<float>();
        Assert.True(error <= Tolerance * largest, $"max |difference| {error:E2} > {Tolerance:E0} x largest logit {largest:E2}");
        Assert.Equal(expected.argmax(1).data<long>().ToArray(), actual.argmax(1).data<long>().ToArray());
    }
}
