using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace EfficientNet.Imaging;

/// <summary>Per-channel (RGB) mean and standard deviation a model's inputs are normalised with. Immutable.</summary>
public sealed record Normalization
{
    /// <summary>Copies the three channel means (in [0, 1] pixel units) and standard deviations.</summary>
    [JsonConstructor]
    public Normalization(IReadOnlyList<float> mean, IReadOnlyList<float> std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Count != 3 || std.Count != 3 || std.Any(s => !(s > 0)))
        {
            throw new EfficientNetException($"a normalisation needs 3 means and 3 positive standard deviations, got mean [{string.Join(", ", mean)}], std [{string.Join(", ", std)}]");
        }
        Mean = Array.AsReadOnly(mean.ToArray());
        Std = Array.AsReadOnly(std.ToArray());
    }

    /// <summary>ImageNet statistics (torchvision's presets): for image folders and pretrained weights.</summary>
    public static Normalization ImageNet { get; } = new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    /// <summary>CIFAR-10 training-set statistics (the values used across the CIFAR literature).</summary>
    public static Normalization Cifar10 { get; } = new([0.4914f, 0.4822f, 0.4465f], [0.2470f, 0.2435f, 0.2616f]);

    /// <summary>Channel means in [0, 1] pixel units.</summary>
    public IReadOnlyList<float> Mean { get; }

    /// <summary>Channel standard deviations.</summary>
    public IReadOnlyList<float> Std { get; }

    /// <summary>Normalises a (B, 3, H, W) batch in [0, 1] in place and returns it.</summary>
    public Tensor Apply(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        using var mean = tensor(Mean.ToArray()).view(1, 3, 1, 1).to(images.device);
        using var std = tensor(Std.ToArray()).view(1, 3, 1, 1).to(images.device);
        return images.sub_(mean).div_(std);
    }

    /// <summary>Value equality on the channel values (records compare lists by reference).</summary>
    public bool Equals(Normalization? other) => other is not null && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Mean.Sum(), Std.Sum());

    /// <inheritdoc/>
    public override string ToString() => $"mean [{string.Join(", ", Mean)}], std [{string.Join(", ", Std)}]";
}
