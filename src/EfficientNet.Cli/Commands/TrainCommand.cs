using System.CommandLine;
using EfficientNet.Cli.Output;
using EfficientNet.Training;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet train</c>: a thin layer over <see cref="Trainer"/>; defaults come from the recipe (<see cref="TrainOptions.FromRecipe"/>, fast unless --recipe says otherwise).</summary>
internal static class TrainCommand
{
    public static Command Create(CliIO io)
    {
        var d = new TrainOptions();
        var dataset = CommonOptions.DatasetOption(d.Dataset);
        var data = new Option<string?>("--data") { Description = "CIFAR-10 folder with data_batch_*.bin, image folder root/<class>/*.jpg, or a list file of path,label rows (*.csv) (cifar10 without --data: download into --cache)" };
        var valData = new Option<string?>("--val-data") { Description = "Validation images, a folder with the same classes or a list file (folder datasets); else --val-fraction of the training data" };
        var valFraction = new Option<double>("--val-fraction") { Description = "Share of each class held out for validation", DefaultValueFactory = _ => d.ValFraction };
        var cache = new Option<string>("--cache") { Description = "Download cache for CIFAR-10", DefaultValueFactory = _ => d.CacheDirectory };
        var variant = CommonOptions.Variant(required: false);
        variant.DefaultValueFactory = _ => "b0";
        var cifarStem = new Option<bool?>("--cifar-stem") { Description = "Stride-1 stem for small images (default: true for cifar10, false for folders)" };
        var resolution = new Option<int?>("--resolution") { Description = "Input size (default: 48 for cifar10 with the fast recipe, 32 with keras, the variant's for folders); CIFAR-10 images are resized to it once at load, bicubic, as predict resizes a file" };
        var dropout = new Option<double?>("--dropout") { Description = "Dropout before the classifier (default: the recipe's: 0.2 for fast, the variant's for keras)" };
        var recipe = new Option<TrainRecipe>("--recipe")
        {
            Description = "Every option below at once: fast (the default: Nesterov SGD 0.1, linear decay, weight decay 5e-4, crop and flip, weight average 0.999, " +
                "30 epochs, CIFAR-10 at 48x48) or keras (the Keras EfficientNet tutorial's: Adam, warm-up cosine, Keras augmentation, 100 epochs with early stopping); options given beside it win",
            DefaultValueFactory = _ => TrainRecipe.Fast,
        };
        var depth = new Option<double>("--stochastic-depth") { Description = "Stochastic-depth rate of the last block (default: the recipe's)" };
        var epochs = new Option<int>("--epochs", "-e") { Description = "Epochs (default: the recipe's)" };
        var batch = new Option<int>("--batch", "-b") { Description = "Batch size (in all: each process of an MPI job takes an equal share)", DefaultValueFactory = _ => d.BatchSize };
        var optimizer = new Option<OptimizerKind>("--optimizer") { Description = "adam, adamw or sgd (default: the recipe's)" };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (default: the recipe's)" };
        var weightDecay = new Option<double>("--weight-decay") { Description = "Weight decay of convolution and linear weights; none on BatchNorm and biases (default: the recipe's)" };
        var momentum = new Option<double>("--momentum") { Description = "SGD momentum (default: the recipe's)" };
        var nesterov = new Option<bool>("--nesterov") { Description = "Nesterov momentum for SGD; --nesterov false turns it off (default: the recipe's)" };
        var schedule = new Option<ScheduleKind>("--schedule") { Description = "cosine or linear (warmup, then decay to 0, per batch) or constant (default: the recipe's)" };
        var warmup = new Option<double>("--warmup-epochs") { Description = "Warmup epochs of the cosine and linear schedules (default: the recipe's, at most a tenth of --epochs)" };
        var smoothing = new Option<double>("--label-smoothing") { Description = "Label smoothing (default: the recipe's)" };
        var ema = new Option<double>("--ema") { Description = "Decay of a weight average (e.g. 0.999) validated and saved as the model; 0: off (default: the recipe's)" };
        var patience = new Option<int>("--patience") { Description = "Early stopping: epochs without a better validation accuracy, 0: off (default: the recipe's)" };
        var plateauPatience = new Option<int>("--plateau-patience") { Description = "Reduce LR after this many epochs without a lower validation loss, 0: off (default: the recipe's)" };
        var plateauFactor = new Option<double>("--plateau-factor") { Description = "Factor applied to the LR on a plateau (default: the recipe's)" };
        var minLr = new Option<double>("--min-lr") { Description = "Lowest learning rate (default: the recipe's)" };
        var augmentation = new AugmentationCliOptions(recipes: true);
        var images = new ImageReadingCliOptions();
        var seed = new Option<int>("--seed") { Description = "Seed for initialisation, data order and augmentation", DefaultValueFactory = _ => d.Seed };
        var threads = CommonOptions.Threads(withEngine: false);
        var device = CommonOptions.Device();
        var nchw = new Option<bool>("--nchw") { Description = "NCHW layout instead of channels-last" };
        var prefetch = new Option<int?>("--prefetch") { Description = "Batches prepared ahead on a background thread (0: none; default: only when libtorch leaves cores free)" };
        var maxBatches = new Option<int>("--max-batches") { Description = "Stop each epoch after this many batches (0: all; quick experiments)", DefaultValueFactory = _ => 0 };
        var trainLimit = new Option<int>("--train-limit") { Description = "Use a stratified subset of this many training images (0: all)", DefaultValueFactory = _ => 0 };
        var output = new Option<string?>("--out", "-o") { Description = "Run folder (default: runs/<dataset>-<variant>-<time>)" };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder with its saved options (with --epochs: train to that many epochs in all)" };

        var command = new Command("train", "Train a model (default: the fast recipe, 30 epochs of Nesterov SGD) into a run folder with history, plots and checkpoints")
        {
            dataset, data, valData, valFraction, cache, variant, cifarStem, resolution, recipe, dropout, depth, epochs, batch, optimizer, lr, weightDecay, momentum, nesterov,
            schedule, warmup, smoothing, ema, patience, plateauPatience, plateauFactor, minLr,
            seed, threads, device, nchw, prefetch, maxBatches, trainLimit, output, resume,
        };
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
                        return Trainer.Resume(runDir, observer, parse.Given(epochs),
                            images.SkipBadImagesGiven(parse), images.WorkersGiven(parse), token);
                    }
                    var r = TrainOptions.FromRecipe(parse.GetValue(recipe), parse.Dataset(dataset, data));
                    var options = r with
                    {
                        Data = parse.GetValue(data), ValData = parse.GetValue(valData), ValFraction = parse.GetValue(valFraction),
                        CacheDirectory = parse.GetValue(cache)!, Variant = parse.GetValue(variant)!, Cifar = parse.GetValue(cifarStem), Resolution = parse.GetValue(resolution) ?? r.Resolution,
                        Dropout = parse.GetValue(dropout) ?? r.Dropout, StochasticDepth = parse.GivenOr(depth, r.StochasticDepth), Epochs = parse.GivenOr(epochs, r.Epochs), BatchSize = parse.GetValue(batch),
                        Optimizer = parse.GivenOr(optimizer, r.Optimizer), LearningRate = parse.GivenOr(lr, r.LearningRate), WeightDecay = parse.GivenOr(weightDecay, r.WeightDecay),
                        Momentum = parse.GivenOr(momentum, r.Momentum), Nesterov = parse.GivenOr(nesterov, r.Nesterov), Schedule = parse.GivenOr(schedule, r.Schedule),
                        WarmupEpochs = parse.GivenOr(warmup, FittedWarmup(r, parse.GivenOr(epochs, r.Epochs))), LabelSmoothing = parse.GivenOr(smoothing, r.LabelSmoothing), EmaDecay = parse.GivenOr(ema, r.EmaDecay),
                        EarlyStoppingPatience = parse.GivenOr(patience, r.EarlyStoppingPatience), PlateauPatience = parse.GivenOr(plateauPatience, r.PlateauPatience),
                        PlateauFactor = parse.GivenOr(plateauFactor, r.PlateauFactor), MinLearningRate = parse.GivenOr(minLr, r.MinLearningRate), Seed = parse.GetValue(seed),
                        Threads = parse.GetValue(threads), Device = parse.GetValue(device)!, ChannelsLast = !parse.GetValue(nchw), Prefetch = parse.GetValue(prefetch),
                        MaxBatchesPerEpoch = parse.GetValue(maxBatches), TrainLimit = parse.GetValue(trainLimit), Augmentation = augmentation.Read(parse, r.Augmentation),
                        Images = images.Read(parse),
                    };
                    string runDirectory = parse.GetValue(output)
                        ?? Path.Combine("runs", $"{options.Dataset.ToString().ToLowerInvariant()}-{options.Variant}-{DateTime.Now:yyyyMMdd-HHmmss}");
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

    /// <summary>
    /// The recipe's warm-up for a run of <paramref name="epochs"/>: at most a tenth of it, so that a short run does
    /// not end at the peak learning rate (the fast recipe's 2 warm-up epochs are a fifteenth of its 30).
    /// </summary>
    private static double FittedWarmup(TrainOptions recipe, int epochs) => Math.Min(recipe.WarmupEpochs, epochs / 10.0);
}
