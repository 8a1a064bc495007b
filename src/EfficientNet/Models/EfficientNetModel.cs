using EfficientNet.Architecture;
using EfficientNet.Layers;
using EfficientNet.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Models;

/// <summary>
/// An EfficientNet (V1 or V2) image classifier built from a <see cref="VariantSpec"/>. Its module tree
/// and state-dict keys are torchvision's: <c>features</c> (stem, one sequence per stage, head conv),
/// <c>avgpool</c>, <c>classifier</c> (dropout "0", linear "1").
/// </summary>
public sealed class EfficientNetModel : nn.Module<Tensor, Tensor>
{
    private readonly Sequential features;
    private readonly AdaptiveAvgPool2d avgpool;
    private Sequential classifier;

    /// <summary>Builds <paramref name="spec"/> with <paramref name="options"/> (defaults when null).</summary>
    public EfficientNetModel(VariantSpec spec, EfficientNetOptions? options = null)
        : base(nameof(EfficientNetModel))
    {
        ArgumentNullException.ThrowIfNull(spec);
        options ??= new EfficientNetOptions();
        options.Validate();
        Spec = spec;
        Options = options with
        {
            Dropout = options.Dropout ?? spec.Dropout,
            Resolution = options.Resolution ?? (options.CifarStem ? EfficientNetOptions.MinResolution : spec.Resolution),
        };
        var norm = new BatchNormSettings(spec.BatchNormEps, spec.BatchNormMomentum);

        var layers = new List<nn.Module<Tensor, Tensor>>();
        var info = new List<(int Index, string Name, int Channels, int Reduction)>();
        int reduction = options.CifarStem ? 1 : 2;
        layers.Add(new ConvNormActivation(3, spec.StemChannels, 3, reduction, norm));
        info.Add((0, "features.0", spec.StemChannels, reduction));

        int blockIndex = 0;
        foreach (var stage in spec.Stages)
        {
            var blocks = new List<nn.Module<Tensor, Tensor>>();
            for (int i = 0; i < stage.Layers; i++)
            {
                // Drop rate grows linearly with depth, from 0 at the first block (torchvision, Keras).
                double drop = options.StochasticDepth * blockIndex / spec.TotalBlocks;
                blocks.Add(new EfficientNetBlock(
                    stage.Kind,
                    stage.ExpandRatio,
                    stage.Kernel,
                    i == 0 ? stage.Stride : 1,
                    i == 0 ? stage.InputChannels : stage.OutputChannels,
                    stage.OutputChannels,
                    drop,
                    norm));
                blockIndex++;
            }
            reduction *= stage.Stride;
            layers.Add(nn.Sequential(blocks));
            info.Add((layers.Count - 1, $"features.{layers.Count - 1}", stage.OutputChannels, reduction));
        }

        layers.Add(new ConvNormActivation(spec.Stages[^1].OutputChannels, spec.HeadChannels, 1, 1, norm));
        info.Add((layers.Count - 1, $"features.{layers.Count - 1}", spec.HeadChannels, reduction));
        FeatureInfo = info;

        features = nn.Sequential(layers);
        avgpool = nn.AdaptiveAvgPool2d(1);
        classifier = NewClassifier(spec.HeadChannels, options.NumClasses, Options.Dropout!.Value, options.Head);
        RegisterComponents();
        Initialize(this);
    }

    /// <summary>The variant this model was built from.</summary>
    public VariantSpec Spec { get; }

    /// <summary>The resolved options (dropout and resolution filled in).</summary>
    public EfficientNetOptions Options { get; private set; }

    /// <summary>Number of output classes of the current classifier.</summary>
    public int NumClasses => Options.NumClasses;

    /// <summary>Input resolution the model is meant for.</summary>
    public int Resolution => Options.Resolution!.Value;

    /// <summary>Channels of the pooled features the classifier reads (the head conv's width).</summary>
    public int NumFeatures => Spec.HeadChannels;

    /// <summary>
    /// The feature levels (stem, every stage, head conv) as timm's <c>feature_info</c>: the index into
    /// <c>features</c>, the module name (e.g. "features.3"), output channels, and the total stride from the input (an
    /// input of size R gives maps of about R / Reduction).
    /// </summary>
    public IReadOnlyList<(int Index, string Name, int Channels, int Reduction)> FeatureInfo { get; }

    /// <summary>The backbone: stem, stages and head conv, in order.</summary>
    public Sequential Features => features;

    /// <summary>The classifier: dropout, then linear.</summary>
    public Sequential Classifier => classifier;

    /// <summary>Builds a registered variant by name, e.g. <c>Create("b0", new() { NumClasses = 10 })</c>.</summary>
    public static EfficientNetModel Create(string variant, EfficientNetOptions? options = null) =>
        new(Variants.Get(variant), options);

    /// <inheritdoc/>
    public override Tensor forward(Tensor input) => ForwardHead(ForwardFeatures(input));

    /// <summary>Runs the backbone: an (N, 3, H, W) batch to (N, <see cref="NumFeatures"/>, H/s, W/s) maps.</summary>
    public Tensor ForwardFeatures(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.ndim != 4 || input.shape[1] != 3)
        {
            throw new EfficientNetException(
                $"expected an image batch of shape (N, 3, H, W), got ({string.Join(", ", input.shape)})");
        }
        // Where the CPU's convolutions are checked, the shapes this pass checks are noted in one line.
        using var checks = ConvolutionCheck.Collect();
        return features.call(input);
    }

    /// <summary>Pools backbone maps and classifies them; with <paramref name="preLogits"/> returns the pooled vector.</summary>
    public Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        var pooled = avgpool.call(features).flatten(1);
        return preLogits ? pooled : classifier.call(pooled);
    }

    /// <summary>
    /// Replaces the classifier with a freshly initialised one for <paramref name="numClasses"/> classes
    /// (transfer learning). <paramref name="dropout"/> and <paramref name="head"/> default to the current ones.
    /// </summary>
    public void ResetClassifier(int numClasses, double? dropout = null, HeadKind? head = null)
    {
        var resolved = Options with { NumClasses = numClasses, Dropout = dropout ?? Options.Dropout, Head = head ?? Options.Head };
        resolved.Validate();
        var device = classifier.parameters().First().device;
        var replacement = NewClassifier(NumFeatures, numClasses, resolved.Dropout!.Value, resolved.Head);
        Initialize(replacement);
        replacement.to(device);
        register_module(nameof(classifier), null!);
        classifier.Dispose();
        classifier = replacement;
        register_module(nameof(classifier), classifier);
        Options = resolved;
    }

    /// <summary>Hidden width of the Keras tutorial's MLP head.</summary>
    internal const int MlpHidden = 256;

    /// <summary>
    /// Sets training or evaluation mode; BatchNorm layers whose parameters are frozen stay in
    /// evaluation mode either way, so their running statistics do not move while the rest trains.
    /// </summary>
    public override void train(bool train = true)
    {
        base.train(train);
        if (!train)
        {
            return;
        }
        foreach (var module in modules())
        {
            bool frozen = module.parameters().Any() && module.parameters().All(p => !p.requires_grad);
            if (module is BatchNorm2d or BatchNorm1d && frozen)
            {
                module.eval();
            }
        }
        if (BackboneBatchNormInference)
        {
            foreach (var norm in features.modules().OfType<BatchNorm2d>())
            {
                norm.eval();
            }
        }
    }

    /// <summary>Keep all backbone BatchNorm layers in inference mode while training (see <see cref="FreezeSpec.BatchNormInference"/>).</summary>
    public bool BackboneBatchNormInference { get; set; }

    /// <summary>Records the input resolution the model is used at (it runs at any size ≥ 32).</summary>
    public void SetResolution(int resolution)
    {
        var resolved = Options with { Resolution = resolution };
        resolved.Validate();
        Options = resolved;
    }

    private static Sequential NewClassifier(int inFeatures, int numClasses, double dropout, HeadKind head) => head switch
    {
        // The Keras tutorial's head; its dropouts (0.3, 0.2) are part of its definition.
        HeadKind.Mlp => nn.Sequential(
            nn.BatchNorm1d(inFeatures),
            nn.Dropout(0.3),
            nn.Linear(inFeatures, MlpHidden),
            nn.SiLU(),
            nn.Dropout(0.2),
            nn.Linear(MlpHidden, numClasses)),
        _ => nn.Sequential(nn.Dropout(dropout), nn.Linear(inFeatures, numClasses)),
    };

    /// <summary>
    /// torchvision's initialisation (Kaiming-normal fan-out convs, unit BatchNorm, uniform linear), except
    /// that the layer producing the logits starts at zero.
    /// </summary>
    /// <remarks>
    /// torchvision's uniform ±1/√classes on 1,280 features gives logits with a standard deviation near 5
    /// at the start (a CIFAR-10 loss of 3.8 where chance is 2.3), and the first epochs go into undoing
    /// that; docs/training.md has the pilots that measured it, in this library and in PyTorch. Pretrained
    /// weights replace all of it anyway.
    /// </remarks>
    private static void Initialize(nn.Module module)
    {
        using var noGrad = no_grad();
        foreach (var m in module.modules())
        {
            switch (m)
            {
                case TorchSharp.Modules.Convolution conv:
                    nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut);
                    if (conv.bias is not null)
                    {
                        nn.init.zeros_(conv.bias);
                    }
                    break;
                case BatchNorm2d bn:
                    nn.init.ones_(bn.weight);
                    nn.init.zeros_(bn.bias);
                    break;
                case Linear linear:
                    double range = 1.0 / Math.Sqrt(linear.out_features);
                    nn.init.uniform_(linear.weight, -range, range);
                    if (linear.bias is not null)
                    {
                        nn.init.zeros_(linear.bias);
                    }
                    break;
            }
        }
        var logits = module.modules().OfType<Linear>().LastOrDefault();
        if (logits is not null)
        {
            nn.init.zeros_(logits.weight);
        }
    }
}
