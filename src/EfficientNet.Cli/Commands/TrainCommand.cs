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
    public static Command Create(CliIO io)
    {
        var d = new TrainOptions();
        var bindings = TrainingOptionBindings.For(TrainingVerb.Train, d);
        var data = bindings.Get<string?>("--data");
        var dataset = CommonOptions.DatasetOption(d.Dataset);
        var recipe = new Option<TrainRecipe>("--recipe")
        {
            Description = "Every option below at once: fast (the default: Nesterov SGD 0.1, linear decay, weight decay 5e-4, crop and flip, weight average 0.999, " +
                "30 epochs, CIFAR-10 at 48x48) or keras (the Keras EfficientNet tutorial's: Adam, warm-up cosine, Keras augmentation, 100 epochs with early stopping); options given beside it win",
            DefaultValueFactory = _ => TrainRecipe.Fast,
        };
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
        TrainingResult Run(ParseResult parse, ITrainingObserver observer, CancellationToken token)
        {
            if (parse.GetValue(resume) is { } runDir)
            {
                return Resume(io, parse, command, runDir, bindings, images, observer, token);
            }
            var r = TrainOptions.FromRecipe(parse.GetValue(recipe), parse.Dataset(dataset, data));
            var options = bindings.Apply(r, parse) with { Augmentation = augmentation.Read(parse, r.Augmentation), Images = images.Read(parse) };
            if (!parse.IsGiven(bindings.Get<double>("--warmup-epochs")))
            {
                options = options with { WarmupEpochs = FittedWarmup(r, options.Epochs) };
            }
            bindings.RefuseUnused(options, parse);
            string runDirectory = parse.GetValue(output)
                ?? Path.Combine("runs", $"{options.Dataset.ToString().ToLowerInvariant()}-{Trainer.Resolve(options).Variant}-{DateTime.Now:yyyyMMdd-HHmmss}");
            return Trainer.Train(options, runDirectory, observer, token);
        }
        command.SetAction(parse => RunReporting(io, parse, Run));
        return command;
    }

    /// <summary>Runs <paramref name="run"/> under the guard: the summary when it finished, the interrupted exit code when it stopped.</summary>
    private static int RunReporting(CliIO io, ParseResult parse, Func<ParseResult, ITrainingObserver, CancellationToken, TrainingResult> run)
    {
        bool interrupted = false;
        int code = io.Guard(_ =>
        {
            io.UseRetainingAllocator();
            var observer = io.TrainingObserver();
            var result = CliIO.WithInterruption(token => run(parse, observer, token));
            interrupted = result.Interrupted;
            if (!interrupted)
            {
                TrainingSummary.Write(io.Out, result);
            }
        })(parse);
        return code != 0 ? code : interrupted ? EffnetCli.Interrupted : 0;
    }

    /// <summary>--resume: the run's saved options, of which only those <see cref="TrainOptions.ChangeableOnResume"/> names may change.</summary>
    private static TrainingResult Resume(CliIO io, ParseResult parse, Command command, string runDir, TrainingBinding[] bindings,
        ImageReadingCliOptions images, ITrainingObserver observer, CancellationToken token)
    {
        var ignored = command.Options
            .Where(o => o.Name != "--resume" && !TrainingOptionBindings.ChangeableOnResume.Contains(o.Name) && parse.IsGiven(o))
            .Select(o => o.Name)
            .ToList();
        if (ignored.Count > 0)
        {
            throw new EfficientNetException(
                $"--resume continues the run with its saved options ({RunFiles.Options}); {string.Join(", ", ignored)} cannot change it (only --epochs, to train longer, --threads, --workers and --skip-bad-images can)");
        }
        io.ApplyThreads(parse.GetValue(bindings.Get<int>("--threads")));
        return Trainer.Resume(runDir, observer, parse.Given(bindings.Get<int>("--epochs")), images.SkipBadImagesGiven(parse), images.WorkersGiven(parse), token);
    }

    /// <summary>
    /// The recipe's warm-up for a run of <paramref name="epochs"/>: at most a tenth of it, so that a short run does
    /// not end at the peak learning rate (the fast recipe's 2 warm-up epochs are a fifteenth of its 30).
    /// </summary>
    private static double FittedWarmup(TrainOptions recipe, int epochs) => Math.Min(recipe.WarmupEpochs, epochs / 10.0);
}
