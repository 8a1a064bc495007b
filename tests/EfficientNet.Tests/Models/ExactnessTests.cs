using EfficientNet.Architecture;
using EfficientNet.Models;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Models;

/// <summary>Parameter counts and state-dict layout equal torchvision's, key by key.</summary>
public class ExactnessTests
{
    public static TheoryData<string> V1Names => new(Variants.All.Where(v => v.Family == ModelFamily.V1).Select(v => v.Name));

    [Theory]
    [MemberData(nameof(V1Names))]
    public void ParameterCount_1000Classes_EqualsTorchvision(string variant)
    {
        using var model = EfficientNetModel.Create(variant);
        long count = model.parameters().Sum(p => p.numel());
        Assert.Equal(Variants.Get(variant).ReferenceParams, count);
        Assert.Equal(TorchvisionFixtures.Params($"efficientnet_{variant}"), count);
    }

    [Theory]
    [MemberData(nameof(V1Names))]
    public void StateDict_KeysAndShapes_EqualTorchvisionInOrder(string variant)
    {
        using var model = EfficientNetModel.Create(variant);
        var ours = StateDict.Ordered(model).Select(kv => (kv.Key, Shape: kv.Value.shape)).ToList();
        var reference = TorchvisionFixtures.State($"efficientnet_{variant}");
        Assert.Equal(reference.Count, ours.Count);
        for (int i = 0; i < reference.Count; i++)
        {
            Assert.Equal(reference[i].Key, ours[i].Key);
            Assert.True(reference[i].Shape.SequenceEqual(ours[i].Shape), $"{reference[i].Key}: torchvision [{string.Join(",", reference[i].Shape)}], ours [{string.Join(",", ours[i].Shape)}]");
        }
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
