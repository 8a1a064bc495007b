using EfficientNet.Architecture;

namespace EfficientNet.Analysis;

/// <summary>
/// Parameters and multiply-accumulates of a variant, computed from its architecture table layer by layer as
/// <see cref="Models.EfficientNetModel"/> builds it (stem, blocks, head convolution, classifier), without building it:
/// the same counts <see cref="ModelSummary"/> measures on the built model (convolutions and linear layers for MACs).
/// </summary>
internal sealed class ArchitectureCost
{
    private int side;

    private ArchitectureCost(int resolution) => side = resolution;

    /// <summary>Trainable parameters (convolutions, BatchNorm scales and shifts, squeeze-excitation, classifier).</summary>
    public long Params { get; private set; }

    /// <summary>Multiply-accumulates for one image.</summary>
    public long Macs { get; private set; }

    /// <summary>The cost of <paramref name="spec"/> at <paramref name="resolution"/> (default: its own) with a linear classifier of <paramref name="classes"/>.</summary>
    public static ArchitectureCost Of(VariantSpec spec, int? resolution = null, int classes = 1000)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var cost = new ArchitectureCost(resolution ?? spec.Resolution);
        cost.ConvNorm(3, spec.StemChannels, 3, 2);
        foreach (var stage in spec.Stages)
        {
            for (int i = 0; i < stage.Layers; i++)
            {
                cost.Block(stage, i == 0 ? stage.InputChannels : stage.OutputChannels, i == 0 ? stage.Stride : 1);
            }
        }
        cost.ConvNorm(spec.Stages[^1].OutputChannels, spec.HeadChannels, 1, 1);
        cost.Params += (long)spec.HeadChannels * classes + classes;
        cost.Macs += (long)spec.HeadChannels * classes;
        return cost;
    }

    // EfficientNetBlock: MBConv (1x1 expand, depthwise, squeeze-excitation, 1x1 project) or Fused-MBConv.
    private void Block(StageConfig stage, int inChannels, int stride)
    {
        int hidden = ChannelScaling.RoundFilters(inChannels, stage.ExpandRatio);
        if (stage.Kind == BlockKind.FusedMBConv)
        {
            ConvNorm(inChannels, hidden == inChannels ? stage.OutputChannels : hidden, stage.Kernel, stride);
            if (hidden != inChannels)
            {
                ConvNorm(hidden, stage.OutputChannels, 1, 1);
            }
            return;
        }
        if (hidden != inChannels)
        {
            ConvNorm(inChannels, hidden, 1, 1);
        }
        ConvNorm(hidden, hidden, stage.Kernel, stride, groups: hidden);
        long squeeze = Math.Max(1, inChannels / 4);
        Params += 2 * hidden * squeeze + squeeze + hidden;
        Macs += 2 * hidden * squeeze;
        ConvNorm(hidden, stage.OutputChannels, 1, 1);
    }

    // ConvNormActivation: a convolution without bias ("same" padding), then BatchNorm's scale and shift.
    private void ConvNorm(long inChannels, long outChannels, int kernel, int stride, long groups = 1)
    {
        side = (side + 2 * ((kernel - 1) / 2) - kernel) / stride + 1;
        long perOutput = inChannels / groups * kernel * kernel;
        Params += outChannels * perOutput + 2 * outChannels;
        Macs += (long)side * side * outChannels * perOutput;
    }
}
