using System.Text.Json;
using EfficientNet.Imaging;
using EfficientNet.IO;
using EfficientNet.Models;
using EfficientNet.Runtime;
using EfficientNet.Training.Distributed;
using EfficientNet.Training.Optimization;
using EfficientNet.Training.Options;
using EfficientNet.Training.Reporting;
using EfficientNet.Training.Runs;
using EfficientNet.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Training.Running;

/// <summary>
/// Trains an EfficientNet classifier into a run folder: options.json, history.csv, loss/accuracy/lr
/// plots, last.safetensors (resumable) and best.safetensors, all written atomically after every epoch.
/// One dispose scope per step keeps native memory flat; cancellation (Ctrl+C) writes a checkpoint at
/// the current batch so <see cref="Resume"/> continues exactly.
/// </summary>
public static class Trainer
{
    /// <summary>
    /// Starts a new run in <paramref name="runDirectory"/> (which must not already hold one): a full model on images, or
    /// the head on cached backbone features (<see cref="TrainOptions.CachedFeatures"/>), through the same loop.
    /// </summary>
    /// <remarks>
    /// Started by an MPI launcher as one of several processes, it trains data-parallel with the others: every process
    /// reads the data (and the initial weights) from the same paths, each takes its share of every batch, gradients are
    /// averaged, and only rank 0 writes the run folder and tells <paramref name="observer"/>. An error on one process
    /// ends the whole job (MPI_Abort) after printing it to standard error, so that no process waits for it forever.
    /// </remarks>
    public static TrainingResult Train(TrainOptions options, string runDirectory, ITrainingObserver? observer = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(runDirectory);
        var world = World.Communicator;
        observer = world.IsRoot ? observer : null;
        return World.Collectively(() =>
        {
            options = options with { Processes = world.Size };
            RankAgreement.Check(world, options);
            options.Validate();
            // Rank 0's initial weights (in a fine-tuning's phase 2, its phase 1 model) reach every process.
            using var initial = RootFile.Share(options.InitialWeights, world);
            options = WithKeptRegularization(Resolve(options with { InitialWeights = initial?.Path })) with { InitialWeights = options.InitialWeights };
            using var writer = world.IsRoot ? RunFolderLock.Take(runDirectory) : null;
            if (world.IsRoot && RunFolder.Create(runDirectory, options))
            {
                observer?.Message($"'{runDirectory}' held a run that stopped before its first checkpoint; starting over in it");
            }
            return Run(options with { InitialWeights = initial?.Path }, runDirectory, resumeFrom: null, observer, world, cancellation);
        });
    }

    /// <summary>Continues the run in <paramref name="runDirectory"/> with its saved options.</summary>
    /// <param name="runDirectory">The run folder.</param>
    /// <param name="observer">Told about progress.</param>
    /// <param name="epochs">
    /// Train to this many epochs in all instead of the saved number (only more: a finished run goes on). Saved in
    /// options.json; the cosine schedule is recomputed for the new length, so the learning rate rises again from
    /// where the shorter schedule had brought it.
    /// </param>
    /// <param name="skipBadImages">Change <see cref="ImageReading.SkipBadImages"/> from here on (e.g. after a run stopped at an unreadable image); saved in options.json.</param>
    /// <param name="workers">Change <see cref="ImageReading.Workers"/> (results do not depend on it); saved in options.json.</param>
    /// <param name="cancellation">Stops after the current step, with a checkpoint.</param>
    /// <remarks>
    /// Under an MPI launcher rank 0 reads the run folder and sends the options and the checkpoint to the other
    /// processes; the job may have another number of processes than the run had (the batch stays the same images).
    /// </remarks>
    public static TrainingResult Resume(
        string runDirectory, ITrainingObserver? observer = null, int? epochs = null, bool? skipBadImages = null, int? workers = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(runDirectory);
        var world = World.Communicator;
        observer = world.IsRoot ? observer : null;
        return World.Collectively(() =>
        {
            string optionsPath = Path.Combine(runDirectory, RunFiles.Options);
            string lastPath = Path.Combine(runDirectory, RunFiles.Last);
            using var writer = world.IsRoot ? LockRun(runDirectory) : null;
            string json = world.Broadcast(world.IsRoot ? ReadRunOptions(runDirectory) : null);
            bool hasCheckpoint = world.Broadcast(world.IsRoot ? [File.Exists(lastPath) ? (byte)1 : (byte)0] : null)[0] == 1;
            TrainOptions options;
            try
            {
                options = JsonSerializer.Deserialize<TrainOptions>(json, OptionsJson) ?? throw new JsonException("empty file");
            }
            catch (JsonException e)
            {
                throw new EfficientNetException($"'{optionsPath}' is corrupt: {e.Message}", e);
            }
            options.Validate();
            var saved = options;
            options = options.Resumed(epochs, skipBadImages, workers);
            if (options.Epochs != saved.Epochs)
            {
                observer?.Message($"extended to {options.Epochs} epochs (saved in {RunFiles.Options})");
            }
            if (options.Images != saved.Images)
            {
                options.Validate();
                observer?.Message($"unreadable images {(options.Images.SkipBadImages ? "are skipped" : "stop the run")}, decoded by {(options.Images.Workers == 0 ? "one thread per core" : $"{options.Images.Workers} threads")} (saved in {RunFiles.Options})");
            }
            if (options.Processes != world.Size)
            {
                observer?.Message($"the run trained on {options.Processes} process(es); it goes on with {world.Size} (each batch is the same {options.BatchSize} images)");
                options = options with { Processes = world.Size };
                options.Validate();
            }
            if (world.IsRoot && options != saved)
            {
                AtomicFile.WriteAllText(optionsPath, JsonSerializer.Serialize(options, OptionsJson));
            }
            if (!hasCheckpoint)
            {
                observer?.Message($"'{runDirectory}' has no {RunFiles.Last} yet (the run stopped in its first epoch): starting it from the beginning with its saved options");
            }
            using var checkpoint = hasCheckpoint ? RootFile.Share(lastPath, world) : null;
            using var initial = hasCheckpoint ? null : RootFile.Share(options.InitialWeights, world);
            // Runs written before options were resolved at the start leave some null; resolving again is a no-op otherwise.
            return Run(Resolve(options with { InitialWeights = initial?.Path ?? options.InitialWeights }), runDirectory, checkpoint?.Path, observer, world, cancellation);
        });
    }

    /// <summary>How a checkpoint to resume differs from the run's options and data (null: it does not).</summary>
    private static string? Disagreement(LoadedModel checkpoint, TrainOptions options, IReadOnlyList<string> classNames)
    {
        var model = checkpoint.Model;
        string variant = Architecture.Variants.Get(options.Variant!).Name;
        var differences = new List<string>();
        if (model.Spec.Name != variant)
        {
            differences.Add($"it holds {model.Spec.Name}, {RunFiles.Options} says {variant}");
        }
        if (model.Options.CifarStem != options.CifarStem)
        {
            differences.Add($"its stem is {Stem(model.Options.CifarStem)}, {RunFiles.Options} says {Stem(options.CifarStem!.Value)}");
        }
        if (model.Resolution != options.Resolution)
        {
            differences.Add($"its resolution is {model.Resolution}, {RunFiles.Options} says {options.Resolution}");
        }
        if (model.NumClasses != classNames.Count)
        {
            differences.Add($"it has {model.NumClasses} classes, the data has {classNames.Count}");
        }
        else if (checkpoint.ClassNames is { } saved && Enumerable.Range(0, saved.Count).FirstOrDefault(i => saved[i] != classNames[i], -1) is var index and >= 0)
        {
            differences.Add($"its class {index} is '{saved[index]}', the data's is '{classNames[index]}'");
        }
        return differences.Count == 0 ? null : string.Join("; ", differences);
    }

    private static string Stem(bool cifar) => cifar ? "the CIFAR stem (stride 1)" : "the standard stem (stride 2)";

    /// <summary>The lock of an existing run folder (rank 0's work).</summary>
    private static RunFolderLock LockRun(string runDirectory)
    {
        if (!File.Exists(Path.Combine(runDirectory, RunFiles.Options)))
        {
            throw new EfficientNetException(
                $"cannot resume '{runDirectory}': it has no {RunFiles.Options}, so it is not a run folder (Trainer.Train writes one)");
        }
        return RunFolderLock.Take(runDirectory);
    }

    /// <summary>options.json of a locked run folder, after removing what an interrupted write left (rank 0's work).</summary>
    private static string ReadRunOptions(string runDirectory)
    {
        AtomicFile.RemoveLeftovers(runDirectory);
        return File.ReadAllText(Path.Combine(runDirectory, RunFiles.Options));
    }

    /// <summary>JSON settings for options.json (enums by name, indented).</summary>
    internal static JsonSerializerOptions OptionsJson { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    /// <summary>
    /// Trains with <paramref name="options"/> (its initial weights a path this process can read), from the checkpoint
    /// <paramref name="resumeFrom"/> when resuming.
    /// </summary>
    private static TrainingResult Run(TrainOptions options, string runDirectory, string? resumeFrom, ITrainingObserver? observer, Communicator world, CancellationToken cancellation)
    {
        observer = world.IsRoot ? observer : null;
        var device = PrepareProcess(options, observer);
        DownloadFirstOnRoot(options, world, cancellation);
        var (train, validation, normalization, badImages) = TrainingData.Load(options, note => observer?.Message(note), cancellation);
        RankAgreement.Check(world, options, train, validation);
        using var model = BuildModel(options, train.Classes, resumeFrom, ref normalization);
        // Channels-last applies to the input batches only: as fast as NHWC weights (docs/performance.md), and it keeps
        // the optimizer state contiguous, which TorchSharp's optimizer serialisation requires.
        model.to(device);
        if (resumeFrom is null)
        {
            ModelSync.BroadcastState(model, world);
        }
        using ITrainingInputs inputs = options.CachedFeatures
            ? CachedFeatureInputs.Compute(model, train, validation, normalization, options, device, observer, cancellation)
            : new ImageInputs(train, validation, normalization, options, device, world);
        using var optimizer = CreateOptimizer(options, inputs.Trained(model));
        using var average = options.EmaDecay > 0 ? new WeightAverage(model, options.EmaDecay) : null;

        string description = $"{model.Spec.DisplayName}{(model.Options.CifarStem ? " (CIFAR stem)" : "")}, {model.NumClasses} classes, {model.Resolution}x{model.Resolution}" +
            (options.CachedFeatures ? ", cached features" : "");
        var folder = new RunFolder(runDirectory, train.Classes, normalization, description);
        var state = resumeFrom is not null ? TrainingCheckpoint.Load(resumeFrom, model, optimizer, average) : new TrainingState();
        if (!world.IsRoot)
        {
            // Dropout and stochastic-depth masks of its own: every process starts from rank 0's generator state.
            manual_seed(Data.DataLoader.Seed(options.Seed, state.Epoch, state.Batch, world.Rank));
        }
        if (world.IsRoot)
        {
            // history.csv may be ahead of or behind an interrupted checkpoint; the checkpoint is the truth.
            folder.WriteHistory(state.History);
        }
        int leftOutCount = RecordLeftOut(badImages, folder, runDirectory, observer, world);
        using var loop = new TrainingLoop(options, model, inputs, optimizer, average, folder, device, observer, state, world, badImages, leftOutCount);
        observer?.Started(new TrainingStart(options, description, train.Count, validation.Count, loop.BatchesPerEpoch, runDirectory,
            resumeFrom is not null ? (state.Epoch + 1, state.Batch) : null, world.Description));
        return loop.Run(state, resumeFrom is not null, cancellation);
    }

    /// <summary>The process set up for a run: its threads, the device, the seed; a warm-up as long as the run is pointed out.</summary>
    private static Device PrepareProcess(TrainOptions options, ITrainingObserver? observer)
    {
        if (ProcessResources.SetThreads(options.Threads > 0 ? options.Threads : World.DefaultThreads).Warning is { } warning)
        {
            observer?.Message(warning);
        }
        if (options.Schedule != ScheduleKind.Constant && options.WarmupEpochs >= options.Epochs)
        {
            observer?.Message($"the warm-up ({options.WarmupEpochs:0.##} epochs) lasts the whole run of {options.Epochs}: the learning rate rises to its peak of {options.LearningRate:G3} " +
                "at the last step and never decays; a warm-up of at most a tenth of the run lets it");
        }
        var device = ProcessResources.ParseDevice(options.Device);
        manual_seed(options.Seed);
        return device;
    }

    /// <summary>
    /// The images left out while decoding a set into memory (every process decodes the same files; rank 0 lists them in
    /// the run folder), counted for the history. Listing none still reads a resumed run's list, so a damaged one is
    /// reported now, not after an epoch's work.
    /// </summary>
    private static int RecordLeftOut(BadImageLog? badImages, RunFolder folder, string runDirectory, ITrainingObserver? observer, Communicator world)
    {
        if (badImages?.Take() is not { } leftOut)
        {
            return 0;
        }
        if (world.IsRoot)
        {
            folder.AddBadImages(0, leftOut);
        }
        if (leftOut.Count > 0)
        {
            observer?.Message($"{leftOut.Count} unreadable image{(leftOut.Count == 1 ? "" : "s")} left out; listed in {Path.Combine(runDirectory, RunFiles.BadImages)}");
        }
        return leftOut.Count;
    }

    /// <summary>
    /// CIFAR-10 without a data folder under a launcher: rank 0 downloads it into the cache first, so that processes sharing
    /// the cache do not download into the same files at once (the others then find it, or fetch it into a cache of
    /// their own on another machine).
    /// </summary>
    private static void DownloadFirstOnRoot(TrainOptions options, Communicator world, CancellationToken cancellation)
    {
        if (options.Dataset != DatasetKind.Cifar10 || options.Data is not null || world.Size == 1)
        {
            return;
        }
        if (world.IsRoot)
        {
            Data.Cifar10.EnsureAvailable(options.CacheDirectory, cancellation: cancellation);
        }
        world.Barrier();
    }

    /// <summary>
    /// Fills in what <paramref name="options"/> leaves to defaults (variant, stem, resolution), taking
    /// them from the initial weights where there are some, so options.json records the full setup.
    /// </summary>
    public static TrainOptions Resolve(TrainOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The header only (the weights themselves are read once, when the model is built), and only when it is needed.
        bool resolved = options.Variant is not null && options.CifarStem is not null && options.Resolution is not null;
        var info = options.InitialWeights is { } path && !resolved ? ModelCheckpoint.ReadInfo(path) : null;
        if (options.InitialWeights is { } plain && options.Variant is null && info is null)
        {
            throw new EfficientNetException($"'{plain}' is a plain state dict without a model description; say which variant it is with LoadOptions.Variant ({string.Join(", ", Architecture.Variants.Names)})");
        }
        string variant = Architecture.Variants.Get(options.Variant ?? info?.Variant ?? "b0").Name;
        bool cifar = options.CifarStem ?? info?.Options.CifarStem ?? options.Dataset == DatasetKind.Cifar10;
        int resolution = options.Resolution ?? info?.Options.Resolution
            ?? (options.Dataset == DatasetKind.Cifar10 ? Data.Cifar10.ImageSize : Architecture.Variants.Get(variant).Resolution);
        var images = options.Dataset == DatasetKind.Folder
            ? options.Images with { RandomResizedCrop = ImagePresets.RandomResizedCrops(options, resolution) }
            : options.Images;
        return options with { Variant = variant, CifarStem = cifar, Resolution = resolution, Images = images };
    }

    /// <summary>
    /// <paramref name="options"/> with the stochastic depth, and unless the head is replaced the dropout, of the model that
    /// its initial weights build (<see cref="BuildModel"/> keeps them), so that options.json records what trains.
    /// </summary>
    private static TrainOptions WithKeptRegularization(TrainOptions options)
    {
        if (options.InitialWeights is not { } path)
        {
            return options;
        }
        // A plain state dict builds with EfficientNetOptions' defaults (ModelLoader).
        var built = ModelCheckpoint.ReadInfo(path)?.Options ?? new EfficientNetOptions();
        return options with { StochasticDepth = built.StochasticDepth, Dropout = options.ReplaceHead ? options.Dropout : built.Dropout };
    }

    /// <summary>
    /// The model a run trains: rebuilt from its own checkpoint when resuming; else the initial weights
    /// with (when asked) a fresh head for the dataset's classes, or a new model. Then the freeze spec.
    /// Checkpoints of this library also pass on their input normalisation.
    /// </summary>
    internal static EfficientNetModel BuildModel(TrainOptions options, IReadOnlyList<string> classNames, string? resumeFrom, ref Normalization normalization)
    {
        EfficientNetModel model;
        int classes = classNames.Count;
        if (resumeFrom is not null)
        {
            var loaded = ModelLoader.Load(resumeFrom);
            model = loaded.Model;
            if (Disagreement(loaded, options, classNames) is { } disagreement)
            {
                model.Dispose();
                throw new EfficientNetException(
                    $"'{resumeFrom}' is not this run's checkpoint: {disagreement}; put the run's own {RunFiles.Last} back, or start a new run");
            }
            normalization = loaded.Normalization ?? normalization;
        }
        else if (options.InitialWeights is { } path)
        {
            var loaded = ModelLoader.Load(path, new LoadOptions
            {
                Variant = options.Variant,
                NumClasses = options.ReplaceHead ? null : classes,
                SkipClassifier = options.ReplaceHead,
                CifarStem = options.CifarStem!.Value,
            });
            model = loaded.Model;
            if (options.ReplaceHead)
            {
                model.ResetClassifier(classes, options.Dropout, options.Head);
            }
            model.SetResolution(options.Resolution!.Value);
            normalization = loaded.Normalization ?? normalization;
        }
        else
        {
            model = EfficientNetModel.Create(options.Variant!, new EfficientNetOptions
            {
                NumClasses = classes,
                CifarStem = options.CifarStem!.Value,
                Resolution = options.Resolution,
                Dropout = options.Dropout,
                StochasticDepth = options.StochasticDepth,
                Head = options.Head,
            });
        }
        try
        {
            Freezing.Apply(model, options.Freeze);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>
    /// The optimizer <paramref name="options"/> asks for, over the model's trainable parameters. With weight decay,
    /// two parameter groups: convolution and linear weights decayed, the rest (BatchNorm, biases) not; without, one
    /// group (the layout of runs saved before the groups existed).
    /// </summary>
    public static OptimizerHelper CreateOptimizer(TrainOptions options, nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(model);
        var parameters = model.parameters().Where(p => p.requires_grad).ToList();
        double decay = options.WeightDecay;
        if (decay == 0)
        {
            return options.Optimizer switch
            {
                OptimizerKind.Adam => optim.Adam(parameters, options.LearningRate),
                OptimizerKind.AdamW => optim.AdamW(parameters, options.LearningRate, weight_decay: 0),
                _ => optim.SGD(parameters, options.LearningRate, momentum: options.Momentum, nesterov: options.Nesterov),
            };
        }
        var decayed = parameters.Where(p => p.dim() > 1).ToList();
        var notDecayed = parameters.Where(p => p.dim() <= 1).ToList();
        return options.Optimizer switch
        {
            OptimizerKind.Adam => optim.Adam(
                [new Adam.ParamGroup(decayed, new Adam.Options { weight_decay = decay }), new Adam.ParamGroup(notDecayed, new Adam.Options { weight_decay = 0 })],
                options.LearningRate),
            OptimizerKind.AdamW => optim.AdamW(
                [new AdamW.ParamGroup(decayed, new AdamW.Options { weight_decay = decay }), new AdamW.ParamGroup(notDecayed, new AdamW.Options { weight_decay = 0 })],
                options.LearningRate),
            _ => optim.SGD(
                [new SGD.ParamGroup(decayed, new SGD.Options { weight_decay = decay }), new SGD.ParamGroup(notDecayed, new SGD.Options { weight_decay = 0 })],
                options.LearningRate, momentum: options.Momentum, nesterov: options.Nesterov),
        };
    }
}
