using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Layers;

/// <summary>
/// The models' 2-D convolution layer: TorchSharp's <c>Conv2d</c> parameters and state-dict keys (<c>weight</c>,
/// <c>bias</c>), square kernels, zero padding, one group or one per channel, and a forward pass that is
/// <see cref="Convolutions.Apply"/> (pointwise ones as matrix multiplies, the others checked where the CPU needs it).
/// </summary>
internal sealed class Conv2d : TorchSharp.Modules.Convolution
{
    /// <summary>Creates the layer with TorchSharp's default initialisation.</summary>
    public Conv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, long groups = 1, bool bias = true)
        : base(nameof(Conv2d), inChannels, outChannels, [kernel, kernel], [stride, stride], [padding, padding], null, [1, 1], false, [0, 0], groups, bias, PaddingModes.Zeros, null, null)
    {
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input) => Convolutions.Apply(input, weight!, bias, stride![0], padding![0], groups);
}
