using EfficientNet.Layers;
using static TorchSharp.torch;

namespace EfficientNet.Models;

/// <summary>Which part of a model to train; everything else is frozen.</summary>
public sealed record FreezeSpec
{
    /// <summary>Train everything (nothing frozen).</summary>
    public static FreezeSpec None { get; } = new();

    /// <summary>Freeze the whole backbone; only the classifier trains.</summary>
    public static FreezeSpec HeadOnly { get; } = new() { Backbone = true };

    /// <summary>Freeze the backbone (<c>features</c>) first.</summary>
    public bool Backbone { get; init; }

    /// <summary>Then unfreeze the last N backbone layers (leaf modules in the order of <see cref="Analysis.ModelSummary"/>, as Keras counts layers).</summary>
    public int LastLayers { get; init; }

    /// <summary>Then unfreeze the last N blocks (the stem, each MBConv or Fused-MBConv block and the head conv are blocks).</summary>
    public int LastBlocks { get; init; }

    /// <summary>Then unfreeze these stages (children of <c>features</c>, e.g. "features.6" or "6").</summary>
    public IReadOnlyList<string> Stages { get; init; } = [];

    /// <summary>
    /// Keep every backbone BatchNorm in inference mode, unfrozen ones included (Keras's
    /// <c>base_model(x, training=False)</c> in the Keras tutorial's fine-tuning phase).
    /// </summary>
    public bool BatchNormInference { get; init; }

    /// <summary>The Keras tutorial's phase 2: backbone frozen except its last <paramref name="layers"/> layers.</summary>
    public static FreezeSpec UnfreezeLast(int layers) => new() { Backbone = true, LastLayers = layers };

    /// <summary>A short description for logs.</summary>
    public override string ToString() => !Backbone ? "nothing frozen"
        : LastLayers + LastBlocks + Stages.Count == 0 ? "backbone frozen"
        : $"backbone frozen except {string.Join(", ", new[] { LastLayers > 0 ? $"the last {LastLayers} layers" : null, LastBlocks > 0 ? $"the last {LastBlocks} blocks" : null, Stages.Count > 0 ? "stages " + string.Join(", ", Stages) : null }.Where(x => x is not null))}";
}

/// <summary>
/// Freezing for transfer learning. A frozen parameter has <c>requires_grad = false</c>, so optimizers
/// skip it; a BatchNorm whose parameters are frozen also stays in inference mode (its running
/// statistics do not move), as Keras does for non-trainable BatchNorm layers — see
/// <see cref="EfficientNetModel.train"/>.
/// </summary>
public static class Freezing
{
    /// <summary>Applies <paramref name="spec"/> to <paramref name="model"/> (from everything trainable).</summary>
    /// <exception cref="EfficientNetException">A count larger than the model has, or an unknown stage.</exception>
    public static void Apply(EfficientNetModel model, FreezeSpec spec)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        SetTrainable(model, true);
        model.BackboneBatchNormInference = spec.BatchNormInference;
        if (!spec.Backbone)
        {
            model.train(model.training);
            return;
        }
        SetTrainable(model.Features, false);

        var layers = BackboneLayers(model);
        if (spec.LastLayers > layers.Count)
        {
            throw new EfficientNetException($"cannot unfreeze the last {spec.LastLayers} layers: the {model.Spec.DisplayName} backbone has {layers.Count}");
        }
        foreach (var (_, layer) in layers.TakeLast(spec.LastLayers))
        {
            SetTrainable(layer, true);
        }

        var blocks = BackboneBlocks(model);
        if (spec.LastBlocks > blocks.Count)
        {
            throw new EfficientNetException($"cannot unfreeze the last {spec.LastBlocks} blocks: the {model.Spec.DisplayName} backbone has {blocks.Count} (stem, MBConv blocks, head conv)");
        }
        foreach (var block in blocks.TakeLast(spec.LastBlocks))
        {
            SetTrainable(block, true);
        }

        var stages = model.Features.named_children().ToDictionary(c => c.name, c => c.module);
        foreach (string stage in spec.Stages)
        {
            string key = stage.StartsWith("features.", StringComparison.Ordinal) ? stage["features.".Length..] : stage;
            if (!stages.TryGetValue(key, out var module))
            {
                throw new EfficientNetException($"unknown stage '{stage}'; the backbone's stages are features.0 … features.{stages.Count - 1}");
            }
            SetTrainable(module, true);
        }
        // Re-apply the mode so that newly frozen BatchNorm layers switch to inference mode now.
        model.train(model.training);
    }

    /// <summary>The backbone's leaf modules in execution order, with their names ("features.…").</summary>
    public static IReadOnlyList<(string Name, nn.Module Module)> BackboneLayers(EfficientNetModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Features.named_modules()
            .Where(m => m.name.Length > 0 && !m.module.children().Any())
            .Select(m => ("features." + m.name, m.module))
            .ToList();
    }

    /// <summary>The backbone's blocks in order: the stem, every MBConv or Fused-MBConv block, the head conv.</summary>
    public static IReadOnlyList<nn.Module> BackboneBlocks(EfficientNetModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var stages = model.Features.children().ToList();
        return stages.Take(1).Concat(stages.Skip(1).Take(stages.Count - 2).SelectMany(s => s.children())).Concat(stages.TakeLast(1)).ToList();
    }

    private static void SetTrainable(nn.Module module, bool trainable)
    {
        foreach (var p in module.parameters())
        {
            p.requires_grad = trainable;
        }
    }
}
