using EfficientNet.Architecture;
using EfficientNet.Models;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Models;

/// <summary>Parameter counts and state-dict layout equal torchvision's, key by key.</summary>
public class ExactnessTests
{
    /// <summary>Every variant torchvision also has: B0–B7 and V2-S/M/L.</summary>
    public static TheoryData<string> TorchvisionNames => new(Variants.All.Where(v => v.ReferenceParams is not null).Select(v => v.Name));

    /// <summary>torchvision's builder name for a registry name ("b0" → efficientnet_b0, "v2-s" → efficientnet_v2_s).</summary>
    private static string TorchvisionArch(string variant) => "efficientnet_" + variant.Replace('-', '_');

    [Theory]
    [MemberData(nameof(TorchvisionNames))]
    public void ParameterCount_1000Classes_EqualsTorchvision(string variant)
    {
        using var model = EfficientNetModel.Create(variant);
        long count = model.parameters().Sum(p => p.numel());
        Assert.Equal(Variants.Get(variant).ReferenceParams, count);
        Assert.Equal(TorchvisionFixtures.Params(TorchvisionArch(variant)), count);
    }

    [Theory]
    [MemberData(nameof(TorchvisionNames))]
    public void StateDict_KeysAndShapes_EqualTorchvisionInOrder(string variant)
    {
        using var model = EfficientNetModel.Create(variant);
        var ours = StateDict.Ordered(model).Select(kv => (kv.Key, Shape: kv.Value.shape)).ToList();
        var reference = TorchvisionFixtures.State(TorchvisionArch(variant));
        Assert.Equal(reference.Count, ours.Count);
        for (int i = 0; i < reference.Count; i++)
        {
            Assert.Equal(reference[i].Key, ours[i].Key);
            Assert.True(reference[i].Shape.SequenceEqual(ours[i].Shape), $"{reference[i].Key}: torchvision [{string.Join(",", reference[i].Shape)}], ours [{string.Join(",", ours[i].Shape)}]");
        }
    }

    [Theory]
    // Keras's published sizes (keras.io/api/applications): 7.2M, 8.2M, 10.2M, 14.5M. Keras counts
    // BatchNorm moving mean and variance as (non-trainable) weights, plus the 7 values of the input
    // Normalization layer its V2-B models include (3 means, 3 variances, a count); torchvision's count,
    // ours, is the trainable parameters alone.
    [InlineData("v2-b0", 7.2)]
    [InlineData("v2-b1", 8.2)]
    [InlineData("v2-b2", 10.2)]
    [InlineData("v2-b3", 14.5)]
    public void ParameterCount_V2B_PlusKerasExtras_MatchesKerasPublished(string variant, double kerasMillions)
    {
        using var model = EfficientNetModel.Create(variant);
        long statistics = model.named_buffers()
            .Where(b => b.name.EndsWith("running_mean", StringComparison.Ordinal) || b.name.EndsWith("running_var", StringComparison.Ordinal))
            .Sum(b => b.buffer.numel());
        long keras = ParameterCount(model) + statistics + 7;
        Assert.Equal(kerasMillions, Math.Round(keras / 1e6, 1));
    }

    [Fact]
    public void ParameterCount_B0With10Classes_Is4020358() =>
        Assert.Equal(4_020_358, ParameterCount(EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10 })));

    [Fact]
    public void ParameterCount_PlusBatchNormStatistics_EqualsKerasB0()
    {
        // Keras counts BatchNorm running mean and variance as (non-trainable) weights, plus the 7
        // values of its input Normalization layer (mean, variance per channel, and a count).
        using var model = EfficientNetModel.Create("b0");
        long statistics = model.named_buffers()
            .Where(b => b.name.EndsWith("running_mean", StringComparison.Ordinal) || b.name.EndsWith("running_var", StringComparison.Ordinal))
            .Sum(b => b.buffer.numel());
        Assert.Equal(5_330_571, ParameterCount(model) + statistics + 7);
    }

    private static long ParameterCount(EfficientNetModel model)
    {
        using (model)
        {
            return model.parameters().Sum(p => p.numel());
        }
    }
}
