using System.CommandLine;
using EfficientNet.Models;
using EfficientNet.Training.Options;

namespace EfficientNet.Cli.Commands;

/// <summary>The verbs that build <see cref="TrainOptions"/> from the command line.</summary>
internal enum TrainingVerb
{
    /// <summary><c>effnet train</c>: the options of a run.</summary>
    Train,

    /// <summary><c>effnet finetune</c>: the options of its base (<see cref="Training.Transfer.FineTuneOptions.Base"/>).</summary>
    FineTune,
}

/// <summary>
/// A command-line option and the <see cref="TrainOptions"/> value it sets; <see cref="Unused"/>: why the options
/// built would leave that value unused, or null (given then, the option is refused rather than silently dropped).
/// </summary>
internal sealed record TrainingBinding(Option Option, Func<TrainOptions, ParseResult, TrainOptions> Apply)
{
    public Func<TrainOptions, string?> Unused { get; init; } = _ => null;
}

/// <summary>
/// The one table of command-line options that set <see cref="TrainOptions"/> values, for <c>train</c> and for
/// <c>finetune</c> (which has the ones its base takes, under the same flags, and <c>--weights</c> for the initial
/// weights); the verbs add only what is theirs (recipes and resume; the phases).
/// </summary>
internal static class TrainingOptionBindings
{
    /// <summary>A model started from initial weights keeps their classifier unless its head is replaced.</summary>
    private static string? KeptClassifier(TrainOptions o) =>
        o.InitialWeights is not null && !o.ReplaceHead ? "a model started from --initial-weights keeps their classifier unless --replace-head trains a new one" : null;

    /// <summary>An option whose value (given or its default) always sets <paramref name="set"/>.</summary>
    private static TrainingBinding Always<T>(Option<T> option, Func<TrainOptions, T, TrainOptions> set) =>
        new(option, (o, parse) => set(o, parse.GetValue(option)!));

    /// <summary>An option that replaces the recipe's value only when given.</summary>
    private static TrainingBinding OverRecipe<T>(Option<T> option, Func<TrainOptions, T, TrainOptions> set) =>
        new(option, (o, parse) => parse.IsGiven(option) ? set(o, parse.GetValue(option)!) : o);

    /// <summary>The bindings of <paramref name="verb"/>, with <paramref name="d"/>'s values as the defaults shown.</summary>
    public static TrainingBinding[] For(TrainingVerb verb, TrainOptions d)
    {
        bool train = verb == TrainingVerb.Train;
        TrainingBinding?[] table = [.. Data(train, d), .. Model(train, d), .. Optimisation(train, d), .. Process(train, d)];
        return [.. table.OfType<TrainingBinding>()];
    }

    // Where the images come from and how they are held out.
    private static IEnumerable<TrainingBinding?> Data(bool train, TrainOptions d) =>
    [
        Always(new Option<string?>("--data")
        {
            Description = train
                ? "CIFAR-10 folder with data_batch_*.bin, image folder root/<class>/*.jpg, or a list file of path,label rows (*.csv) (cifar10 without --data: download into --cache)"
                : "Training images: root/<class>/*.jpg, a list file of path,label rows (*.csv), or a CIFAR-10 folder",
        }, (o, v) => o with { Data = v }),
        Always(new Option<string?>("--val-data")
        {
            Description = train
                ? "Validation images, a folder with the same classes or a list file (folder datasets); else --val-fraction of the training data"
                : "Validation/test images with the same classes, a folder or a list file (gets a full final evaluation); else --val-fraction",
        }, (o, v) => o with { ValData = v }),
        Always(new Option<double>("--val-fraction") { Description = "Share of each class held out for validation when there is no --val-data", DefaultValueFactory = _ => d.ValFraction }, (o, v) => o with { ValFraction = v }),
        train ? Always(new Option<string>("--cache") { Description = "Download cache for CIFAR-10", DefaultValueFactory = _ => d.CacheDirectory }, (o, v) => o with { CacheDirectory = v }) : null,
        train ? Always(new Option<int>("--train-limit") { Description = "Use a stratified subset of this many training images (0: all)", DefaultValueFactory = _ => 0 }, (o, v) => o with { TrainLimit = v }) : null,
    ];

    // The model: variant, initial weights, head, stem, input size, regularisation.
    private static IEnumerable<TrainingBinding?> Model(bool train, TrainOptions d) =>
    [
        Always(WithDescription(CommonOptions.Variant(required: false), train
            ? " (default: the --initial-weights checkpoint's, else b0)"
            : " (required for plain PyTorch state dicts; this library's checkpoints and exports record it)"), (o, v) => o with { Variant = v }),
        train
            ? Always(new Option<string?>("--initial-weights") { Description = "Start from these weights instead of a random initialisation: an effnet checkpoint (its variant, stem and resolution are the defaults) or a torchvision-layout .pth / .safetensors (then --variant)" }, (o, v) => o with { InitialWeights = v })
            : Always(new Option<string>("--weights", "-w") { Description = "Pretrained weights: an effnet checkpoint or a torchvision-layout .pth / .safetensors", Required = true }, (o, v) => o with { InitialWeights = v }),
        train ? Always(new Option<bool>("--replace-head") { Description = "With --initial-weights: train a new classifier (--head) for this dataset's classes instead of the weights' own (transfer learning; needed when the classes differ)" }, (o, v) => o with { ReplaceHead = v }) : null,
        train
            ? Always(CommonOptions.Head(d.Head, "Classifier of a new model or of --replace-head"), (o, v) => o with { Head = CommonOptions.HeadKindOf(v) }) with { Unused = KeptClassifier }
            : Always(CommonOptions.Head(d.Head, "The new head"), (o, v) => o with { Head = CommonOptions.HeadKindOf(v) }),
        train ? null : Always(new Option<bool>("--cache-features") { Description = "Phase 1 on backbone features computed once (much faster on a CPU; no augmentation in phase 1)" }, (o, v) => o with { CachedFeatures = v }),
        train ? Always(new Option<bool?>("--cifar-stem") { Description = "Stride-1 stem for small images (default: true for cifar10, false for folders)" }, (o, v) => o with { CifarStem = v }) : null,
        OverRecipe(new Option<int?>("--resolution")
        {
            Description = train
                ? "Input size (default: 48 for cifar10 with the fast recipe, 32 with keras, the variant's for folders); CIFAR-10 images are resized to it once at load, bicubic, as predict resizes a file"
                : "Input size (default: the pretrained checkpoint's, else the variant's)",
        }, (o, v) => o with { Resolution = v }),
        train ? OverRecipe(new Option<double?>("--dropout") { Description = "Dropout before a simple classifier (default: the recipe's: 0.2 for fast, the variant's for keras)" }, (o, v) => o with { Dropout = v }) with { Unused = o => KeptClassifier(o) ?? (o.Head == HeadKind.Mlp ? "the mlp head has its own dropouts (0.3 and 0.2)" : null) } : null,
        train ? OverRecipe(new Option<double>("--stochastic-depth") { Description = "Stochastic-depth rate of the last block of a new model (default: the recipe's; --initial-weights keep their own)" }, (o, v) => o with { StochasticDepth = v }) with { Unused = o => o.InitialWeights is not null ? "a model started from --initial-weights keeps their stochastic depth" : null } : null,
    ];

    // The optimisation: epochs, batch, optimizer, schedule, regularisation of the loss, callbacks.
    private static IEnumerable<TrainingBinding?> Optimisation(bool train, TrainOptions d) =>
    [
        train ? OverRecipe(new Option<int>("--epochs", "-e") { Description = "Epochs (default: the recipe's)" }, (o, v) => o with { Epochs = v }) : null,
        Always(new Option<int>("--batch", "-b") { Description = "Batch size (in all: each process of an MPI job takes an equal share)", DefaultValueFactory = _ => d.BatchSize }, (o, v) => o with { BatchSize = v }),
        train ? OverRecipe(new Option<OptimizerKind>("--optimizer") { Description = "adam, adamw or sgd (default: the recipe's)" }, (o, v) => o with { Optimizer = v }) : null,
        train ? OverRecipe(new Option<double>("--lr") { Description = "Peak learning rate (default: the recipe's)" }, (o, v) => o with { LearningRate = v }) : null,
        train ? OverRecipe(new Option<double>("--weight-decay") { Description = "Weight decay of convolution and linear weights; none on BatchNorm and biases (default: the recipe's)" }, (o, v) => o with { WeightDecay = v }) : null,
        train ? OverRecipe(new Option<double>("--momentum") { Description = "SGD momentum (default: the recipe's)" }, (o, v) => o with { Momentum = v }) : null,
        train ? OverRecipe(new Option<bool>("--nesterov") { Description = "Nesterov momentum for SGD; --nesterov false turns it off (default: the recipe's)" }, (o, v) => o with { Nesterov = v }) : null,
        train ? OverRecipe(new Option<ScheduleKind>("--schedule") { Description = "cosine or linear (warmup, then decay to 0, per batch) or constant (default: the recipe's)" }, (o, v) => o with { Schedule = v }) : null,
        train ? OverRecipe(new Option<double>("--warmup-epochs") { Description = "Warmup epochs of the cosine and linear schedules (default: the recipe's, at most a tenth of --epochs)" }, (o, v) => o with { WarmupEpochs = v }) : null,
        train
            ? OverRecipe(new Option<double>("--label-smoothing") { Description = "Label smoothing (default: the recipe's)" }, (o, v) => o with { LabelSmoothing = v })
            : Always(new Option<double>("--label-smoothing") { Description = "Label smoothing", DefaultValueFactory = _ => d.LabelSmoothing }, (o, v) => o with { LabelSmoothing = v }),
        train ? OverRecipe(new Option<double>("--ema") { Description = "Decay of a weight average (e.g. 0.999) validated and saved as the model; 0: off (default: the recipe's)" }, (o, v) => o with { EmaDecay = v }) : null,
        train ? OverRecipe(new Option<int>("--patience") { Description = "Early stopping: epochs without a better validation accuracy, 0: off (default: the recipe's)" }, (o, v) => o with { EarlyStoppingPatience = v }) : null,
        train ? OverRecipe(new Option<int>("--plateau-patience") { Description = "Reduce LR after this many epochs without a lower validation loss, 0: off (default: the recipe's)" }, (o, v) => o with { PlateauPatience = v }) : null,
        train ? OverRecipe(new Option<double>("--plateau-factor") { Description = "Factor applied to the LR on a plateau (default: the recipe's)" }, (o, v) => o with { PlateauFactor = v }) : null,
        train ? OverRecipe(new Option<double>("--min-lr") { Description = "Lowest learning rate (default: the recipe's)" }, (o, v) => o with { MinLearningRate = v }) : null,
        Always(new Option<int>("--seed") { Description = "Seed for initialisation, data order and augmentation", DefaultValueFactory = _ => d.Seed }, (o, v) => o with { Seed = v }),
    ];

    // Where and how the process computes.
    private static IEnumerable<TrainingBinding?> Process(bool train, TrainOptions d) =>
    [
        Always(CommonOptions.Threads(withEngine: false), (o, v) => o with { Threads = v }),
        Always(CommonOptions.Device(), (o, v) => o with { Device = v }),
        train ? Always(new Option<bool>("--nchw") { Description = "NCHW layout instead of channels-last" }, (o, v) => o with { ChannelsLast = !v }) : null,
        train ? Always(new Option<int?>("--prefetch") { Description = "Batches prepared ahead on a background thread (0: none; default: only when libtorch leaves cores free)" }, (o, v) => o with { Prefetch = v }) : null,
        train ? Always(new Option<int>("--max-batches") { Description = "Stop each epoch after this many batches (0: all; quick experiments)", DefaultValueFactory = _ => 0 }, (o, v) => o with { MaxBatchesPerEpoch = v }) : null,
    ];

    private static Option<string> WithDescription(Option<string> option, string addition)
    {
        option.Description += addition;
        return option;
    }

    /// <summary>The option named <paramref name="name"/> of <paramref name="bindings"/>.</summary>
    public static Option<T> Get<T>(this TrainingBinding[] bindings, string name) => (Option<T>)bindings.Single(b => b.Option.Name == name).Option;

    /// <summary><paramref name="start"/> with every binding applied, then checked for options given in vain (see <see cref="TrainingBinding.Unused"/>).</summary>
    public static TrainOptions Apply(this TrainingBinding[] bindings, TrainOptions start, ParseResult parse) =>
        bindings.Aggregate(start, (o, binding) => binding.Apply(o, parse));

    /// <summary>Refuses the first option given that <paramref name="options"/> would leave unused (see <see cref="TrainingBinding.Unused"/>).</summary>
    public static void RefuseUnused(this TrainingBinding[] bindings, TrainOptions options, ParseResult parse)
    {
        foreach (var binding in bindings.Where(b => parse.IsGiven(b.Option)))
        {
            if (binding.Unused(options) is { } reason)
            {
                throw new EfficientNetException($"{binding.Option.Name} would have no effect: {reason}");
            }
        }
    }

    /// <summary>The flags of the options a resumed run may change (<see cref="TrainOptions.ChangeableOnResume"/>).</summary>
    public static IReadOnlySet<string> ChangeableOnResume { get; } = TrainOptions.ChangeableOnResume.Select(p => OptionFlags.Flags[p]).ToHashSet();
}
