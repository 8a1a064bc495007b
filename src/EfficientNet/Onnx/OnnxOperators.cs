using EfficientNet.Layers;
using EfficientNet.Models;
using TorchSharp.Modules;
using static EfficientNet.Onnx.OnnxGraph;
using static TorchSharp.torch;

namespace EfficientNet.Onnx;

/// <summary>
/// The one place that maps each layer kind to ONNX operators (as <c>torch.onnx</c>'s symbolic registry
/// does): one small function per module type that emits its evaluation-mode computation into a graph and
/// returns the name of its output. Adding a layer to the models means adding its mapping here; an
/// unmapped layer fails the export with its type and path.
/// </summary>
internal static class OnnxOperators
{
    private delegate string Emitter(OnnxGraph graph, nn.Module module, string input, string scope);

    private static readonly Dictionary<Type, Emitter> Emitters = new()
    {
        [typeof(EfficientNetModel)] = Model,
        [typeof(Sequential)] = Sequence,
        [typeof(ConvNormActivation)] = ConvBatchNormActivation,
        [typeof(EfficientNetBlock)] = Block,
        [typeof(SqueezeExcitation)] = Excitation,
        [typeof(Layers.SiLU)] = (g, _, x, scope) => SiLU(g, x, scope),
        [typeof(TorchSharp.Modules.SiLU)] = (g, _, x, scope) => SiLU(g, x, scope),
        [typeof(Linear)] = Gemm,
        [typeof(BatchNorm1d)] = BatchNorm,
        // Identities in evaluation mode.
        [typeof(Dropout)] = (_, _, x, _) => x,
        [typeof(StochasticDepth)] = (_, _, x, _) => x,
    };

    /// <summary>Emits <paramref name="module"/> applied to <paramref name="input"/>; returns the output's name.</summary>
    public static string Emit(OnnxGraph graph, nn.Module module, string input, string scope)
    {
        if (!Emitters.TryGetValue(module.GetType(), out var emit))
        {
            throw new EfficientNetException(
                $"no ONNX mapping for layer '{scope}' ({module.GetType().Name}); add one to {nameof(OnnxOperators)}");
        }
        return emit(graph, module, input, scope);
    }

    // Backbone, global average pool, flatten, classifier: EfficientNetModel.forward.
    private static string Model(OnnxGraph g, nn.Module module, string x, string scope)
    {
        var model = (EfficientNetModel)module;
        x = Emit(g, model.Features, x, "features");
        x = g.Node("GlobalAveragePool", "avgpool", [x]);
        x = g.Node("Flatten", "flatten", [x], Int("axis", 1));
        return Emit(g, model.Classifier, x, "classifier");
    }

    private static string Sequence(OnnxGraph g, nn.Module module, string x, string scope)
    {
        foreach (var (name, child) in module.named_children())
        {
            x = Emit(g, child, x, scope.Length == 0 ? name : $"{scope}.{name}");
        }
        return x;
    }

    // The BatchNorm is folded into the convolution (weights computed from the state dict as it is now).
    private static string ConvBatchNormActivation(OnnxGraph g, nn.Module module, string x, string scope)
    {
        var layer = (ConvNormActivation)module;
        using var scopeTensors = NewDisposeScope();
        var (weight, bias) = layer.FoldBatchNorm();
        x = Conv(g, layer.Convolution, weight, bias, x, scope);
        return layer.HasActivation ? SiLU(g, x, scope) : x;
    }

    private static string Block(OnnxGraph g, nn.Module module, string x, string scope)
    {
        var block = (EfficientNetBlock)module;
        string y = Emit(g, block.Layers, x, scope + ".block");
        return block.HasResidual ? g.Node("Add", scope, [y, x]) : y;
    }

    // Global average pool, 1x1 conv, SiLU, 1x1 conv, sigmoid, then the input scaled per channel.
    private static string Excitation(OnnxGraph g, nn.Module module, string x, string scope)
    {
        var se = (SqueezeExcitation)module;
        string s = g.Node("GlobalAveragePool", scope, [x]);
        s = SiLU(g, Conv(g, se.Reduce, se.Reduce.weight!, se.Reduce.bias, s, scope + ".fc1"), scope);
        s = g.Node("Sigmoid", scope, [Conv(g, se.Expand, se.Expand.weight!, se.Expand.bias, s, scope + ".fc2")]);
        return g.Node("Mul", scope, [x, s]);
    }

    // x * sigmoid(x): ONNX has no SiLU before opset 24's Swish; ONNX Runtime fuses this pattern.
    private static string SiLU(OnnxGraph g, string x, string scope) =>
        g.Node("Mul", scope, [x, g.Node("Sigmoid", scope, [x])]);

    private static string Conv(OnnxGraph g, Layers.Conv2d conv, Tensor weight, Tensor? bias, string x, string scope)
    {
        var inputs = new List<string> { x, g.Initializer(scope + ".weight", weight) };
        if (bias is not null)
        {
            inputs.Add(g.Initializer(scope + ".bias", bias));
        }
        long[] padding = conv.padding!;
        return g.Node("Conv", scope, inputs,
            Ints("kernel_shape", conv.kernel_size!),
            Ints("strides", conv.stride!),
            Ints("pads", [.. padding, .. padding]),
            Ints("dilations", conv.dilation!),
            Int("group", conv.groups));
    }

    private static string Gemm(OnnxGraph g, nn.Module module, string x, string scope)
    {
        var linear = (Linear)module;
        var inputs = new List<string> { x, g.Initializer(scope + ".weight", linear.weight!) };
        if (linear.bias is not null)
        {
            inputs.Add(g.Initializer(scope + ".bias", linear.bias));
        }
        return g.Node("Gemm", scope, inputs, Int("transB", 1));
    }

    private static string BatchNorm(OnnxGraph g, nn.Module module, string x, string scope)
    {
        var norm = (BatchNorm1d)module;
        return g.Node("BatchNormalization", scope,
            [
                x,
                g.Initializer(scope + ".weight", norm.weight!),
                g.Initializer(scope + ".bias", norm.bias!),
                g.Initializer(scope + ".running_mean", norm.running_mean!),
                g.Initializer(scope + ".running_var", norm.running_var!),
            ],
            Float("epsilon", (float)norm.eps));
    }
}
