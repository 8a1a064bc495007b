using EfficientNet.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Tests;

/// <summary>Models with weights that make every layer matter, for parity checks without pretrained files.</summary>
internal static class TestModels
{
    /// <summary>
    /// A model that behaves like a trained one: random BatchNorm scales and shifts, running statistics
    /// measured on random images (cumulative averages, so activations stay near unit scale through the
    /// whole depth and folding them into the convolutions matters), and a random logit layer (the default
    /// zero one would make every logit 0). Returned in evaluation mode.
    /// </summary>
    public static EfficientNetModel PretrainedLike(string variant, EfficientNetOptions options, int batches = 2)
    {
        var model = EfficientNetModel.Create(variant, options);
        using var noGrad = no_grad();
        var norms = model.modules().OfType<NormBase>().ToList();
        foreach (var norm in norms)
        {
            norm.weight!.copy_(1 + 0.1 * randn(norm.weight.shape));
            norm.bias!.copy_(0.1 * randn(norm.bias.shape));
            norm.momentum = null;
        }
        model.train();
        for (int i = 0; i < batches; i++)
        {
            using var scope = NewDisposeScope();
            model.call(randn(4, 3, model.Resolution, model.Resolution));
        }
        foreach (var norm in norms)
        {
            norm.momentum = 0.1;
        }
        var logits = model.modules().OfType<Linear>().Last();
        double range = 1.0 / Math.Sqrt(logits.in_features);
        nn.init.uniform_(logits.weight, -range, range);
        nn.init.uniform_(logits.bias, -range, range);
        model.eval();
        return model;
    }
}
