using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Layers;

/// <summary>BatchNorm epsilon and momentum (PyTorch convention: momentum weighs the new batch).</summary>
internal sealed record BatchNormSettings(double Eps, double Momentum);

/// <summary>
/// Conv2d → BatchNorm2d → optional SiLU, with children named "0", "1", "2" exactly like torchvision's
/// <c>Conv2dNormActivation</c>, so state-dict keys match. For inference the BatchNorm can be folded
/// into the convolution (<see cref="FuseForInference"/>): one pass over the activations instead of
/// two. Folding keeps the state dict as it is, is undone by <c>train()</c> and redone from the new weights
/// when <see cref="Weights.StateDictLoader"/> loads a state dict.
/// </summary>
internal sealed class ConvNormActivation : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly BatchNorm2d norm;
    private readonly SiLU? activation;
    private readonly long stride;
    private readonly long padding;
    private readonly long groups;
    private Tensor? fusedWeight;
    private Tensor? fusedBias;

    /// <summary>Builds the layer. Padding keeps the spatial size at stride 1 ("same" for odd kernels).</summary>
    public ConvNormActivation(long inChannels, long outChannels, long kernel, long stride, BatchNormSettings norm, long groups = 1, bool activation = true)
        : base(nameof(ConvNormActivation))
    {
        ArgumentNullException.ThrowIfNull(norm);
        this.stride = stride;
        padding = (kernel - 1) / 2;
        this.groups = groups;
        conv = new Conv2d(inChannels, outChannels, kernel, stride, padding, groups, bias: false);
        this.norm = nn.BatchNorm2d(outChannels, eps: norm.Eps, momentum: norm.Momentum);
        register_module("0", conv);
        register_module("1", this.norm);
        if (activation)
        {
            this.activation = new SiLU();
            register_module("2", this.activation);
        }
    }

    /// <summary>Whether the BatchNorm is currently folded into the convolution.</summary>
    public bool IsFused => fusedWeight is not null;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        Tensor x = fusedWeight is not null && !training
            ? Convolutions.Apply(input, fusedWeight, fusedBias, stride, padding, groups)
            : norm.call(conv.call(input));
        return activation is null ? x : activation.call(x);
    }

    /// <summary>
    /// Folds the BatchNorm's running statistics and affine parameters into the convolution:
    /// w' = w * g / sqrt(var + eps), b' = b - mean * g / sqrt(var + eps). Only used in evaluation mode.
    /// </summary>
    public void FuseForInference()
    {
        Unfuse();
        using var scope = NewDisposeScope();
        var (weight, bias) = FoldBatchNorm();
        // Keep the weight's memory layout (channels-last stays channels-last).
        fusedWeight = (conv.weight!.IsChannelsLast() ? weight.ToChannelsLast() : weight.contiguous()).MoveToOuterDisposeScope();
        fusedBias = bias.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The convolution.</summary>
    internal Conv2d Convolution => conv;

    /// <summary>Whether a SiLU follows the BatchNorm.</summary>
    internal bool HasActivation => activation is not null;

    /// <summary>
    /// The convolution weight and bias with the BatchNorm's running statistics and affine parameters folded in
    /// (evaluation-mode semantics), computed from the current state dict; for inference and ONNX export.
    /// </summary>
    internal (Tensor Weight, Tensor Bias) FoldBatchNorm()
    {
        using var noGrad = no_grad();
        // Scalars held by `using`: TorchSharp's add(Scalar) reads a temporary Scalar's handle and nothing keeps
        // the temporary alive during the native call, so a GC in between could finalize (free) it first; seen
        // once as "toFloat: Expected false to be true" while exporting V2-M under a busy test run.
        using Scalar eps = norm.eps;
        using Scalar one = 1;
        var scale = norm.weight! / norm.running_var!.add(eps, one).sqrt();
        return (conv.weight! * scale.view(-1, 1, 1, 1), norm.bias! - norm.running_mean! * scale);
    }

    /// <summary>Drops the folded weights; forward uses the convolution and BatchNorm again.</summary>
    public void Unfuse()
    {
        fusedWeight?.Dispose();
        fusedBias?.Dispose();
        fusedWeight = null;
        fusedBias = null;
    }

    /// <inheritdoc/>
    public override void train(bool train = true)
    {
        // Training changes the weights and statistics the folded copy was made from.
        if (train)
        {
            Unfuse();
        }
        base.train(train);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Unfuse();
        }
        base.Dispose(disposing);
    }
}
