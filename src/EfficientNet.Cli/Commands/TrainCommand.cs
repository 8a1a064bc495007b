using System.CommandLine;
using EfficientNet.Cli.Output;
using EfficientNet.Models;
using EfficientNet.Training.Options;
using EfficientNet.Training.Reporting;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet train</c>: a thin layer over <see cref="Trainer"/>; defaults come from the recipe (<see cref="TrainOptions.FromRecipe"/>, fast unless --recipe says otherwise).</summary>
internal static class TrainCommand
{
    /// <summary>
    /// A command-line option and the <see cref="TrainOptions"/> value it sets; <see cref="Unused"/>: why the options
    /// built would leave that value unused, or null (given then, the option is refused rather than silently dropped).
    /// </summary>
    private sealed record Binding(Option Option, Func<TrainOptions, ParseResult, TrainOptions> Apply)
    {
        public Func<TrainOptions, string?> Unused { get; init; } = _ => null;
    }

    /// <summary>A model started from initial weights keeps their classifier unless its head is replaced.</summary>
    private static string? KeptClassifier(TrainOptions o) =>
        o.InitialWeights is not null && !o.ReplaceHead ? "a model started from --initial-weights keeps their classifier unless --replace-head trains a new one" : null;

    /// <summary>An option whose value (given or its default) always sets <paramref name="set"/>.</summary>
    private static Binding Always<T>(Option<T> option, Func<TrainOptions, T, TrainOptions> set) =>
        new(option, (o, parse) => set(o, parse.GetValue(option)!));

    /// <summary>An option that replaces the recipe's value only when given.</summary>
    private static Binding OverRecipe<T>(Option<T> option, Func<TrainOptions, T, TrainOptions> set) =>
        new(option, (o, parse) => parse.IsGiven(option) ? set(o, parse.GetValue(option)!) : o);

    /// <summary>Every train option that sets one <see cref="TrainOptions"/> value, and how; the options the action also reads are passed in.</summary>
    private static Binding[] Bindings(TrainOptions d, Option<string?> data, Option<int> epochs, Option<double> warmup, Option<int> threads) =>
    [
        Always(data, (o, v) => o with { Data = v }),
        Always(new Option<string?>("--val-data") { Description = "Validation images, a folder with the same classes or a list file (folder datasets); else --val-fraction of the training data" }, (o, v) => o with { ValData = v }),
        Always(new Option<double>("--val-fraction") { Description = "Share of each class held out for validation", DefaultValueFactory = _ => d.ValFraction }, (o, v) => o with { ValFraction = v }),
        Always(new Option<string>("--cache") { Description = "Download cache for CIFAR-10", DefaultValueFactory = _ => d.CacheDirectory }, (o, v) => o with { CacheDirectory = v }),
        Always(WithDescription(CommonOptions.Variant(required: false), " (default: the --initial-weights checkpoint's, else b0)"), (o, v) => o with { Variant = v }),
        Always(new Option<string?>("--initial-weights") { Description = "Start from these weights instead of a random initialisation: an effnet checkpoint (its variant, stem and resolution are the defaults) or a torchvision-layout .pth / .safetensors (then --variant)" }, (o, v) => o with { InitialWeights = v }),
        Always(new Option<bool>("--replace-head") { Description = "With --initial-weights: train a new classifier (--head) for this dataset's classes instead of the weights' own (transfer learning; needed when the classes differ)" }, (o, v) => o with { ReplaceHead = v }),
        Always(CommonOptions.Head(d.Head, "Classifier of a new model or of --replace-head"), (o, v) => o with { Head = CommonOptions.HeadKindOf(v) }) with { Unused = KeptClassifier },
        Always(new Option<bool?>("--cifar-stem") { Description = "Stride-1 stem for small images (default: true for cifar10, false for folders)" }, (o, v) => o with { CifarStem = v }),
        OverRecipe(new Option<int?>("--resolution") { Description = "Input size (default: 48 for cifar10 with the fast recipe, 32 with keras, the variant's for folders); CIFAR-10 images are resized to it once at load, bicubic, as predict resizes a file" }, (o, v) => o with { Resolution = v }),
        OverRecipe(new Option<double?>("--dropout") { Description = "Dropout before a simple classifier (default: the recipe's: 0.2 for fast, the variant's for keras)" }, (o, v) => o with { Dropout = v }) with { Unused = o => KeptClassifier(o) ?? (o.Head == HeadKind.Mlp ? "the mlp head has its own dropouts (0.3 and 0.2)" : null) },
        OverRecipe(new Option<double>("--stochastic-depth") { Description = "Stochastic-depth rate of the last block of a new model (default: the recipe's; --initial-weights keep their own)" }, (o, v) => o with { StochasticDepth = v }) with { Unused = o => o.InitialWeights is not null ? "a model started from --initial-weights keeps their stochastic depth" : null },
        OverRecipe(epochs, (o, v) => o with { Epochs = v }),
        Always(new Option<int>("--batch", "-b") { Description = "Batch size (in all: each process of an MPI job takes an equal share)", DefaultValueFactory = _ => d.BatchSize }, (o, v) => o with { BatchSize = v }),
        OverRecipe(new Option<OptimizerKind>("--optimizer") { Description = "adam, adamw or sgd (default: the recipe's)" }, (o, v) => o with { Optimizer = v }),
        OverRecipe(new Option<double>("--lr") { Description = "Peak learning rate (default: the recipe's)" }, (o, v) => o with { LearningRate = v }),
        OverRecipe(new Option<double>("--weight-decay") { Description = "Weight decay of convolution and linear weights; none on BatchNorm and biases (default: the recipe's)" }, (o, v) => o with { WeightDecay = v }),
        OverRecipe(new Option<double>("--momentum") { Description = "SGD momentum (default: the recipe's)" }, (o, v) => o with { Momentum = v }),
        OverRecipe(new Option<bool>("--nesterov") { Description = "Nesterov momentum for SGD; --nesterov false turns it off (default: the recipe's)" }, (o, v) => o with { Nesterov = v }),
        OverRecipe(new Option<ScheduleKind>("--schedule") { Description = "cosine or linear (warmup, then decay to 0, per batch) or constant (default: the recipe's)" }, (o, v) => o with { Schedule = v }),
        OverRecipe(warmup, (o, v) => o with { WarmupEpochs = v }),
        OverRecipe(new Option<double>("--label-smoothing") { Description = "Label smoothing (default: the recipe's)" }, (o, v) => o with { LabelSmoothing = v }),
        OverRecipe(new Option<double>("--ema") { Description = "Decay of a weight average (e.g. 0.999) validated and saved as the model; 0: off (default: the recipe's)" }, (o, v) => o with { EmaDecay = v }),
        OverRecipe(new Option<int>("--patience") { Description = "Early stopping: epochs without a better validation accuracy, 0: off (default: the recipe's)" }, (o, v) => o with { EarlyStoppingPatience = v }),
        OverRecipe(new Option<int>("--plateau-patience") { Description = "Reduce LR after this many epochs without a lower validation loss, 0: off (default: the recipe's)" }, (o, v) => o with { PlateauPatience = v }),
        OverRecipe(new Option<double>("--plateau-factor") { Description = "Factor applied to the LR on a plateau (default: the recipe's)" }, (o, v) => o with { PlateauFactor = v }),
        OverRecipe(new Option<double>("--min-lr") { Description = "Lowest learning rate (default: the recipe's)" }, (o, v) => o with { MinLearningRate = v }),
        Always(new Option<int>("--seed") { Description = "Seed for initialisation, data order and augmentation", DefaultValueFactory = _ => d.Seed }, (o, v) => o with { Seed = v }),
        Always(threads, (o, v) => o with { Threads = v }),
        Always(CommonOptions.Device(), (o, v) => o with { Device = v }),
        Always(new Option<bool>("--nchw") { Description = "NCHW layout instead of channels-last" }, (o, v) => o with { ChannelsLast = !v }),
        Always(new Option<int?>("--prefetch") { Description = "Batches prepared ahead on a background thread (0: none; default: only when libtorch leaves cores free)" }, (o, v) => o with { Prefetch = v }),
        Always(new Option<int>("--max-batches") { Description = "Stop each epoch after this many batches (0: all; quick experiments)", DefaultValueFactory = _ => 0 }, (o, v) => o with { MaxBatchesPerEpoch = v }),
        Always(new Option<int>("--train-limit") { Description = "Use a stratified subset of this many training images (0: all)", DefaultValueFactory = _ => 0 }, (o, v) => o with { TrainLimit = v }),
    ];

    private static Option<string> WithDescription(Option<string> option, string addition)
    {
        option.Description += addition;
        return option;
    }

    public static Command Create(CliIO io)
    {
        var d = new TrainOptions();
        var dataset = CommonOptions.DatasetOption(d.Dataset);
        var data = new Option<string?>("--data") { Description = "CIFAR-10 folder with data_batch_*.bin, image folder root/<class>/*.jpg, or a list file of path,label rows (*.csv) (cifar10 without --data: download into --cache)" };
        var epochs = new Option<int>("--epochs", "-e") { Description = "Epochs (default: the recipe's)" };
        var warmup = new Option<double>("--warmup-epochs") { Description = "Warmup epochs of the cosine and linear schedules (default: the recipe's, at most a tenth of --epochs)" };
        var threads = CommonOptions.Threads(withEngine: false);
        var recipe = new Option<TrainRecipe>("--recipe")
        {
            Description = "Every option below at once: fast (the default: Nesterov SGD 0.1, linear decay, weight decay 5e-4, crop and flip, weight average 0.999, " +
                "30 epochs, CIFAR-10 at 48x48) or keras (the Keras EfficientNet tutorial's: Adam, warm-up cosine, Keras augmentation, 100 epochs with early stopping); options given beside it win",
            DefaultValueFactory = _ => TrainRecipe.Fast,
        };
        var bindings = Bindings(d, data, epochs, warmup, threads);
        var augmentation = new AugmentationCliOptions(recipes: true);
        var images = new ImageReadingCliOptions();
        var output = new Option<string?>("--out", "-o") { Description = "Run folder (default: runs/<dataset>-<variant>-<time>)" };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder with its saved options (with --epochs: train to that many epochs in all)" };

        var command = new Command("train", "Train a model (default: the fast recipe, 30 epochs of Nesterov SGD) into a run folder with history, plots and checkpoints") { dataset, recipe };
        foreach (var binding in bindings)
        {
            command.Options.Add(binding.Option);
        }
        command.Options.Add(output);
        command.Options.Add(resume);
        augmentation.AddTo(command);
        images.AddTo(command);
        command.SetAction(parse =>
        {
            int exit = 0;
            var body = io.Guard(_ =>
            {
                io.UseRetainingAllocator();
                var observer = io.TrainingObserver();
                var result = CliIO.WithInterruption(token =>
                {
                    if (parse.GetValue(resume) is { } runDir)
                    {
                        return Resume(io, parse, command, runDir, resume, epochs, threads, images, observer, token);
                    }
                    var r = TrainOptions.FromRecipe(parse.GetValue(recipe), parse.Dataset(dataset, data));
                    var options = bindings.Aggregate(r, (o, binding) => binding.Apply(o, parse)) with
                    {
                        Augmentation = augmentation.Read(parse, r.Augmentation),
                        Images = images.Read(parse),
                    };
                    if (!parse.IsGiven(warmup))
                    {
                        options = options with { WarmupEpochs = FittedWarmup(r, options.Epochs) };
                    }
                    RefuseUnused(bindings, options, parse);
                    string runDirectory = parse.GetValue(output)
                        ?? Path.Combine("runs", $"{options.Dataset.ToString().ToLowerInvariant()}-{Trainer.Resolve(options).Variant}-{DateTime.Now:yyyyMMdd-HHmmss}");
                    return Trainer.Train(options, runDirectory, observer, token);
                });
                if (result.Interrupted)
                {
                    exit = EffnetCli.Interrupted;
                    return;
                }
                TrainingSummary.Write(io.Out, result);
            });
            int code = body(parse);
            return code != 0 ? code : exit;
        });
        return command;
    }

    /// <summary>Refuses the first option given that <paramref name="options"/> would leave unused (see <see cref="Binding.Unused"/>).</summary>
    private static void RefuseUnused(Binding[] bindings, TrainOptions options, ParseResult parse)
    {
        foreach (var binding in bindings.Where(b => parse.IsGiven(b.Option)))
        {
            if (binding.Unused(options) is { } reason)
            {
                throw new EfficientNetException($"{binding.Option.Name} would have no effect: {reason}");
            }
        }
    }

    /// <summary>--resume: the run's saved options, of which only the epochs, threads and image reading may change.</summary>
    private static TrainingResult Resume(CliIO io, ParseResult parse, Command command, string runDir, Option<string?> resume, Option<int> epochs,
        Option<int> threads, ImageReadingCliOptions images, ITrainingObserver observer, CancellationToken token)
    {
        var ignored = command.Options
            .Where(o => o != resume && o != epochs && o != threads && !images.ChangeableOnResume.Contains(o) && parse.IsGiven(o))
            .Select(o => o.Name)
            .ToList();
        if (ignored.Count > 0)
        {
            throw new EfficientNetException(
                $"--resume continues the run with its saved options ({RunFiles.Options}); {string.Join(", ", ignored)} cannot change it (only --epochs, to train longer, --threads, --workers and --skip-bad-images can)");
        }
        io.ApplyThreads(parse.GetValue(threads));
        return Trainer.Resume(runDir, observer, parse.Given(epochs), images.SkipBadImagesGiven(parse), images.WorkersGiven(parse), token);
    }

    /// <summary>
    /// The recipe's warm-up for a run of <paramref name="epochs"/>: at most a tenth of it, so that a short run does
    /// not end at the peak learning rate (the fast recipe's 2 warm-up epochs are a fifteenth of its 30).
    /// </summary>
    private static double FittedWarmup(TrainOptions recipe, int epochs) => Math.Min(recipe.WarmupEpochs, epochs / 10.0);
}
