using EfficientNet.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Analysis;

/// <summary>One executed leaf layer.</summary>
/// <param name="Name">Dotted module path, e.g. "features.1.0.block.0.0".</param>
/// <param name="Type">Module type, e.g. "Conv2d".</param>
/// <param name="OutputShape">Output shape without the batch dimension.</param>
/// <param name="Params">Parameters of this layer (counted at its first call only).</param>
/// <param name="TrainableParams">Of which require gradients.</param>
/// <param name="Macs">Multiply-accumulates of this call for one image.</param>
public sealed record LayerSummary(string Name, string Type, long[] OutputShape, long Params, long TrainableParams, long Macs);

/// <summary>A per-layer account of a model at one input resolution.</summary>
/// <param name="Model">Model description.</param>
/// <param name="Resolution">Square input resolution used.</param>
/// <param name="Layers">Leaf layers in execution order.</param>
/// <param name="Params">All parameters of the model.</param>
/// <param name="TrainableParams">Parameters that require gradients.</param>
/// <param name="Macs">Multiply-accumulates for one image (convolutions and linear layers).</param>
public sealed record ModelSummaryReport(string Model, int Resolution, IReadOnlyList<LayerSummary> Layers, long Params, long TrainableParams, long Macs)
{
    /// <summary>Parameters that are frozen (do not require gradients).</summary>
    public long FrozenParams => Params - TrainableParams;
}

/// <summary>
/// Runs one image through a model with hooks on every leaf module and records output shapes,
/// parameters and multiply-accumulates (MACs). MACs follow the convention of torchvision's and the
/// paper's "FLOPs": convolutions and linear layers only (elementwise work is a small remainder).
/// </summary>
public static class ModelSummary
{
    /// <summary>
    /// Parameters and MACs of <paramref name="spec"/> at <paramref name="resolution"/> (default: its own) with a linear
    /// classifier of <paramref name="classes"/>, computed from its architecture table without building it: the counts
    /// <see cref="Summarize"/> measures on the built model.
    /// </summary>
    public static (long Params, long Macs) FromTable(VariantSpec spec, int? resolution = null, int classes = 1000)
    {
        var cost = ArchitectureCost.Of(spec, resolution, classes);
        return (cost.Params, cost.Macs);
    }

    /// <summary>Summarises <paramref name="model"/> for a 3 x <paramref name="resolution"/>² input.</summary>
    public static ModelSummaryReport Summarize(nn.Module<Tensor, Tensor> model, int resolution, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = new List<LayerSummary>();
        var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
        var removers = new List<Action>();
        foreach (var (name, module) in model.named_modules())
        {
            if (module.children().Any() || module is not nn.Module<Tensor, Tensor> leaf)
            {
                continue;
            }
            var remover = leaf.register_forward_hook((m, input, output) =>
            {
                bool first = seen.Add(m);
                long parameters = first ? m.parameters().Sum(p => p.numel()) : 0;
                long trainable = first ? m.parameters().Where(p => p.requires_grad).Sum(p => p.numel()) : 0;
                layers.Add(new LayerSummary(name, m.GetType().Name, output.shape[1..], parameters, trainable, Macs(m, output)));
                return output;
            });
            removers.Add(remover.remove);
        }

        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var device = model.parameters().FirstOrDefault()?.device ?? CPU;
            model.call(zeros([1, 3, resolution, resolution], device: device));
        }
        finally
        {
            removers.ForEach(remove => remove());
            model.train(wasTraining);
        }

        long total = model.parameters().Sum(p => p.numel());
        long trainableTotal = model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
        return new ModelSummaryReport(description ?? model.GetType().Name, resolution, layers, total, trainableTotal, layers.Sum(l => l.Macs));
    }

    private static long Macs(nn.Module module, Tensor output)
    {
        long perImage = output.numel() / output.shape[0];
        return module switch
        {
            // weight [out, in/groups, kh, kw]: each output element sums (in/groups)*kh*kw products.
            TorchSharp.Modules.Convolution conv => perImage * conv.weight.shape[1] * conv.weight.shape[2] * conv.weight.shape[3],
            TorchSharp.Modules.Linear linear => perImage * linear.weight.shape[1],
            _ => 0,
        };
    }
}
