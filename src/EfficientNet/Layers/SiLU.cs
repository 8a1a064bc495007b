using static TorchSharp.torch;

namespace EfficientNet.Layers;

/// <summary>
/// SiLU (swish), x * sigmoid(x). When autograd is off nothing needs the input again, so it is
/// overwritten in place: one activation-sized buffer fewer per layer at inference. With autograd on it
/// allocates, as <c>nn.SiLU()</c> does. No parameters, so state dicts are unaffected.
/// </summary>
internal sealed class SiLU : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the activation.</summary>
    public SiLU()
        : base(nameof(SiLU))
    {
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input) => nn.functional.silu(input, inplace: !is_grad_enabled());
}
