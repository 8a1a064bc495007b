using EfficientNet.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Inference.Engines;

/// <summary>How to prepare a model for inference.</summary>
/// <param name="ChannelsLast">Store convolution weights NHWC (feed NHWC input too: <see cref="TensorLayout.ToChannelsLast"/>).</param>
/// <param name="FuseBatchNorm">Fold each BatchNorm into the convolution before it.</param>
internal sealed record InferenceSettings(bool ChannelsLast = true, bool FuseBatchNorm = true);

/// <summary>
/// Inference-only speed-ups that leave the model's state dict, and so its checkpoints, unchanged:
/// NHWC weights (as PyTorch's <c>model.to(memory_format=torch.channels_last)</c>) and BatchNorm
/// folding. <c>model.train()</c> undoes the folding.
/// </summary>
internal static class InferenceOptimizer
{
    /// <summary>Puts <paramref name="model"/> in evaluation mode and applies <paramref name="settings"/>.</summary>
    public static void Prepare(nn.Module model, InferenceSettings settings)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        model.eval();
        if (settings.ChannelsLast)
        {
            ConvertWeightsToChannelsLast(model);
        }
        foreach (var layer in model.modules().OfType<ConvNormActivation>())
        {
            if (settings.FuseBatchNorm)
            {
                layer.FuseForInference();
            }
            else
            {
                layer.Unfuse();
            }
        }
    }

    /// <summary>
    /// Gives every 4-D convolution weight NHWC strides in place, so that oneDNN does not reorder it on
    /// every call. Call before creating an optimizer: the parameters are replaced.
    /// </summary>
    public static void ConvertWeightsToChannelsLast(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var noGrad = no_grad();
        foreach (var conv in model.modules().OfType<TorchSharp.Modules.Convolution>())
        {
            var weight = conv.weight!;
            if (!weight.IsChannelsLast())
            {
                conv.weight = new Parameter(weight.ToChannelsLast(), weight.requires_grad);
                weight.Dispose();
            }
        }
    }
}
