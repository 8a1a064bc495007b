using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Layers;

/// <summary>
/// Conv2d → BatchNorm2d → optional SiLU, as a <see cref="Sequential"/> whose children are named "0",
/// "1", "2" exactly like torchvision's <c>Conv2dNormActivation</c>, so the state-dict keys match.
/// </summary>
public static class ConvBnAct
{
    /// <summary>Builds the sequence. Padding keeps the spatial size at stride 1 ("same" for odd kernels).</summary>
    public static Sequential Create(
        long inChannels,
        long outChannels,
        long kernel,
        long stride,
        BatchNormSettings norm,
        long groups = 1,
        bool activation = true)
    {
        ArgumentNullException.ThrowIfNull(norm);
        var conv = nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: (kernel - 1) / 2, groups: groups, bias: false);
        var bn = nn.BatchNorm2d(outChannels, eps: norm.Eps, momentum: norm.Momentum);
        return activation ? nn.Sequential(conv, bn, nn.SiLU()) : nn.Sequential(conv, bn);
    }
}

/// <summary>BatchNorm epsilon and momentum (PyTorch convention: momentum weighs the new batch).</summary>
public sealed record BatchNormSettings(double Eps, double Momentum);
