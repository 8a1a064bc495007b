using static TorchSharp.torch;

namespace EfficientNet.Data.Augmentation;

/// <summary>
/// A random transform of an image batch: float (B, 3, H, W) with values in [0, 1] in, the same shape
/// and range out. All randomness comes from <c>random</c>, so a seeded generator gives the same batch.
/// </summary>
internal interface IBatchTransform
{
    /// <summary>Transforms the batch; returns a new tensor or the input itself.</summary>
    Tensor Apply(Tensor images, Random random);
}

/// <summary>Random draws shared by the transforms.</summary>
internal static class RandomExtensions
{
    /// <summary>Uniform in [-limit, limit].</summary>
    public static double Symmetric(this Random random, double limit) => (random.NextDouble() * 2 - 1) * limit;

    /// <summary>Uniform in [low, high).</summary>
    public static double Uniform(this Random random, double low, double high) => low + random.NextDouble() * (high - low);
}
