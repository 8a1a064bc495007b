using System.Text.Json.Serialization;

namespace EfficientNet.Models;

/// <summary>The classifier on top of the pooled backbone features.</summary>
public enum HeadKind
{
    /// <summary>torchvision's: dropout, then one linear layer.</summary>
    Linear,

    /// <summary>
    /// The Keras tutorial's transfer-learning head: BatchNorm → Dropout 0.3 → Dense 256 with SiLU →
    /// Dropout 0.2 → Dense n (after the global average pool).
    /// </summary>
    Mlp,
}

/// <summary>
/// How to build a model from a variant. Every default is visible here; the resolved options travel
/// with checkpoints so that a model can be rebuilt exactly.
/// </summary>
public sealed record EfficientNetOptions
{
    /// <summary>The smallest input the stem and five stride-2 stages handle sensibly.</summary>
    public const int MinResolution = 32;

    /// <summary>The largest input a model is built or exported for: one 4096x4096 image already needs gigabytes of activations.</summary>
    public const int MaxResolution = 4096;

    /// <summary>Number of output classes (ImageNet: 1000).</summary>
    public int NumClasses { get; init; } = 1000;

    /// <summary>Dropout before the classifier; null takes the variant's default (0.2 for B0 … 0.5 for B7).</summary>
    public double? Dropout { get; init; }

    /// <summary>
    /// Stochastic-depth rate of the last block; block i of n drops with rate * i / n (torchvision and
    /// Keras use 0.2).
    /// </summary>
    public double StochasticDepth { get; init; } = 0.2;

    /// <summary>
    /// The Keras tutorial's CIFAR variant: a stride-1 stem, so 32x32 inputs keep a 2x2 map before
    /// pooling instead of collapsing to 1x1. Parameter count and state-dict keys are unchanged.
    /// </summary>
    [JsonPropertyName("cifar")] // the name checkpoints written before the rename hold
    public bool CifarStem { get; init; }

    /// <summary>Input resolution the model is meant for; null takes the variant's (32 for the CIFAR variant).</summary>
    public int? Resolution { get; init; }

    /// <summary>The classifier head (torchvision's linear head by default).</summary>
    public HeadKind Head { get; init; } = HeadKind.Linear;

    /// <summary>Throws an actionable error for an option out of range.</summary>
    public void Validate()
    {
        if (NumClasses <= 0)
        {
            throw new EfficientNetException($"the number of classes must be positive, got {NumClasses}");
        }
        if (Dropout is < 0 or >= 1)
        {
            throw new EfficientNetException($"dropout must be in [0, 1), got {Dropout}");
        }
        if (StochasticDepth is < 0 or >= 1)
        {
            throw new EfficientNetException($"the stochastic-depth rate must be in [0, 1), got {StochasticDepth}");
        }
        if (Resolution is < MinResolution or > MaxResolution)
        {
            throw new EfficientNetException($"the input resolution must be between {MinResolution} and {MaxResolution} pixels, got {Resolution}");
        }
    }
}
