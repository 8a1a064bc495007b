using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace EfficientNet.Data;

/// <summary>Per-channel (RGB) mean and standard deviation a model's inputs are normalised with.</summary>
/// <param name="Mean">Channel means in [0, 1] pixel units.</param>
/// <param name="Std">Channel standard deviations.</param>
public sealed record Normalization(float[] Mean, float[] Std)
{
    /// <summary>ImageNet statistics (torchvision's presets): for image folders and pretrained weights.</summary>
    public static Normalization ImageNet { get; } = new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    /// <summary>CIFAR-10 training-set statistics (the values used across the CIFAR literature).</summary>
    public static Normalization Cifar10 { get; } = new([0.4914f, 0.4822f, 0.4465f], [0.2470f, 0.2435f, 0.2616f]);

    /// <summary>Normalises a (B, 3, H, W) batch in [0, 1] in place and returns it.</summary>
    public Tensor Apply(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        using var mean = tensor(Mean).view(1, 3, 1, 1).to(images.device);
        using var std = tensor(Std).view(1, 3, 1, 1).to(images.device);
        return images.sub_(mean).div_(std);
    }

    /// <summary>Value equality on the channel arrays (records compare arrays by reference).</summary>
    public bool Equals(Normalization? other) => other is not null && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Mean.Sum(), Std.Sum());

    [JsonIgnore]
    private string Text => $"mean [{string.Join(", ", Mean)}], std [{string.Join(", ", Std)}]";

    /// <inheritdoc/>
    public override string ToString() => Text;
}
