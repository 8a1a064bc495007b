using System.Text.Json;
using System.Text.Json.Serialization;
using EfficientNet.Data.Augmentation;
using EfficientNet.IO;
using EfficientNet.Models;
using EfficientNet.Training.Distributed;
using EfficientNet.Training.Evaluation;
using EfficientNet.Training.Options;
using EfficientNet.Training.Reporting;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;

namespace EfficientNet.Training.Transfer;

/// <summary>
/// Keras's two-phase transfer learning (its EfficientNet fine-tuning tutorial), as options with its values as defaults:
/// phase 1 trains a new head (global pool → BatchNorm → Dropout 0.3 → Dense 256 SiLU → Dropout 0.2 →
/// Dense n) on the frozen pretrained backbone with Adam at 1e-3 for 5 epochs; phase 2 unfreezes the
/// last 20 backbone layers and fine-tunes with Adam at 1e-5 for 5 more, backbone BatchNorm kept in
/// inference mode. Both phases are training runs of <see cref="Base"/>; the properties here are what the phases add.
/// </summary>
public sealed record FineTuneOptions
{
    /// <summary>
    /// What both phases train with: the pretrained weights (<see cref="TrainOptions.InitialWeights"/>, required), the
    /// data, variant, resolution, the new head (<see cref="TrainOptions.Head"/>), batch, image reading, augmentation,
    /// label smoothing, optimizer, seed, threads, device, and <see cref="TrainOptions.CachedFeatures"/> (phase 1 on
    /// backbone features computed once: fast on a CPU, no augmentation in phase 1). The phases set the rest (see
    /// <see cref="PhaseSettings"/>), so those are left at their defaults here.
    /// </summary>
    public TrainOptions Base { get; init; } = Defaults;

    /// <summary>Keras's tutorial as a base: image folders, batches of 32, the MLP head, no label smoothing; <see cref="TrainOptions"/>' defaults otherwise.</summary>
    public static TrainOptions Defaults { get; } = new() { Dataset = DatasetKind.Folder, BatchSize = 32, Head = HeadKind.Mlp, LabelSmoothing = 0 };

    /// <summary>The base's properties that each phase sets itself (names of <see cref="TrainOptions"/> properties).</summary>
    public static IReadOnlyList<string> PhaseSettings { get; } =
    [
        nameof(TrainOptions.ReplaceHead), nameof(TrainOptions.Freeze), nameof(TrainOptions.Epochs), nameof(TrainOptions.LearningRate),
        nameof(TrainOptions.Schedule), nameof(TrainOptions.WarmupEpochs), nameof(TrainOptions.EarlyStoppingPatience),
        nameof(TrainOptions.PlateauPatience), nameof(TrainOptions.RestoreBestWeights),
    ];

    /// <summary>Phase 1 (head only) epochs.</summary>
    public int Phase1Epochs { get; init; } = 5;

    /// <summary>Phase 1 learning rate.</summary>
    public double Phase1LearningRate { get; init; } = 1e-3;

    /// <summary>Backbone layers unfrozen in phase 2 (0 skips phase 2).</summary>
    public int Unfreeze { get; init; } = 20;

    /// <summary>Phase 2 epochs.</summary>
    public int Phase2Epochs { get; init; } = 5;

    /// <summary>Phase 2 learning rate.</summary>
    public double Phase2LearningRate { get; init; } = 1e-5;

    /// <summary>
    /// Phase 2 trains the unfrozen backbone BatchNorm layers (batch statistics, running averages updated) instead of
    /// keeping them in inference mode as Keras's tutorial does: better where the new images differ much from the
    /// pretraining ones and much of the backbone is unfrozen (docs/transfer-learning.md).
    /// </summary>
    public bool TrainBatchNorm { get; init; }

    /// <summary>The phase 1 training options: a new head on the frozen backbone, a constant learning rate, the last epoch's weights.</summary>
    public TrainOptions Phase1() => Base with
    {
        ReplaceHead = true,
        Freeze = FreezeSpec.HeadOnly,
        Epochs = Phase1Epochs,
        LearningRate = Phase1LearningRate,
        Schedule = ScheduleKind.Constant,
        WarmupEpochs = 0,
        EarlyStoppingPatience = 0,
        PlateauPatience = 0,
        RestoreBestWeights = false,
        Augmentation = Base.CachedFeatures ? AugmentationOptions.None : Base.Augmentation,
        Images = Base.CachedFeatures ? Base.Images with { RandomResizedCrop = false } : Base.Images,
    };

    /// <summary>Whether there is a phase 2: layers to unfreeze and epochs to train them.</summary>
    [JsonIgnore]
    public bool RunsPhase2 => Unfreeze > 0 && Phase2Epochs > 0;

    /// <summary>Phase 2's freezing: the last <see cref="Unfreeze"/> backbone layers trainable, backbone BatchNorm in inference mode unless <see cref="TrainBatchNorm"/>.</summary>
    [JsonIgnore]
    public FreezeSpec Phase2Freeze => FreezeSpec.UnfreezeLast(Unfreeze) with { BatchNormInference = !TrainBatchNorm };

    /// <summary>The phase 2 training options, starting from phase 1's final weights.</summary>
    public TrainOptions Phase2(string phase1Weights) => Phase1() with
    {
        InitialWeights = phase1Weights,
        ReplaceHead = false,
        Variant = null,
        CachedFeatures = false,
        Augmentation = Base.Augmentation,
        Images = Base.Images,
        Freeze = Phase2Freeze,
        Epochs = Phase2Epochs,
        LearningRate = Phase2LearningRate,
    };

    /// <summary>Throws an actionable error for a bad option.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Base);
        if (string.IsNullOrWhiteSpace(Base.InitialWeights))
        {
            throw new EfficientNetException("the fine-tuning base needs TrainOptions.InitialWeights: the pretrained weights to start from");
        }
        if (Phase1Epochs <= 0 || Phase2Epochs < 0 || Unfreeze < 0)
        {
            throw new EfficientNetException("FineTuneOptions.Phase1Epochs must be positive, FineTuneOptions.Phase2Epochs and FineTuneOptions.Unfreeze 0 or positive");
        }
        var defaults = new TrainOptions();
        foreach (string name in PhaseSettings)
        {
            var property = typeof(TrainOptions).GetProperty(name)!;
            if (!Equals(property.GetValue(Base), property.GetValue(defaults)))
            {
                throw new EfficientNetException($"TrainOptions.{name} of a fine-tuning base is set by the phases; leave it at its default and use FineTuneOptions' phase settings");
            }
        }
        Phase1().Validate();
    }
}

/// <summary>Results of both phases and the final evaluation.</summary>
/// <param name="Phase1">Head-only phase.</param>
/// <param name="Phase2">Fine-tuning phase (null when skipped).</param>
/// <param name="FinalModel">The model to use: phase 2's (or phase 1's) final weights.</param>
/// <param name="FinalAccuracy">Validation accuracy of the final model.</param>
/// <param name="Evaluation">Full evaluation of the final model on the validation folder (null when validating on a held-out split).</param>
public sealed record FineTuneResult(TrainingResult Phase1, TrainingResult? Phase2, string FinalModel, double FinalAccuracy, EvaluationResult? Evaluation);

/// <summary>Runs <see cref="FineTuneOptions"/>: phase1/ and phase2/ run folders, then final.safetensors and evaluation.json.</summary>
public static class FineTuner
{
    /// <summary>Runs both phases into <paramref name="runDirectory"/>.</summary>
    /// <remarks>
    /// Under an MPI launcher both phases train data-parallel (see <see cref="Trainer.Train"/>); rank 0 writes the folder
    /// and evaluates the final model, and the other processes return the last epoch's validation accuracy.
    /// </remarks>
    public static FineTuneResult Run(FineTuneOptions options, string runDirectory, ITrainingObserver? observer = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var world = World.Communicator;
        observer = world.IsRoot ? observer : null;
        World.Collectively(() => CheckBeforeWork(options, runDirectory, world));
        // The folder's one writer from here (another fine-tuning that found it empty at the same time is refused).
        using var writer = world.IsRoot ? World.Collectively(() => RunFolderLock.Take(runDirectory)) : null;
        if (world.IsRoot)
        {
            AtomicFile.WriteAllText(Path.Combine(runDirectory, "finetune.json"), JsonSerializer.Serialize(options, Trainer.OptionsJson));
        }

        string phase1Dir = Path.Combine(runDirectory, "phase1");
        observer?.Message($"phase 1: {options.Base.Head} head on the frozen backbone, {options.Phase1Epochs} epochs at {options.Phase1LearningRate:G3}{(options.Base.CachedFeatures ? ", cached features" : "")}");
        var phase1 = Trainer.Train(options.Phase1(), phase1Dir, observer, cancellation);
        TrainingResult? phase2 = null;
        if (!phase1.Interrupted && options.RunsPhase2)
        {
            observer?.Message($"phase 2: last {options.Unfreeze} backbone layers unfrozen, their BatchNorm {(options.TrainBatchNorm ? "training" : "in inference mode")}, {options.Phase2Epochs} epochs at {options.Phase2LearningRate:G3}");
            phase2 = Trainer.Train(options.Phase2(phase1.FinalModelPath), Path.Combine(runDirectory, "phase2"), observer, cancellation);
        }
        if (phase1.Interrupted || phase2?.Interrupted == true)
        {
            throw new OperationCanceledException("fine-tuning interrupted; the phase's run folder continues with Trainer.Resume");
        }

        // Both phases train a fixed number of epochs and end with their last epoch's model.
        string finalModel = Path.Combine(runDirectory, "final.safetensors");
        return world.IsRoot
            ? Conclude(options, runDirectory, phase1, phase2, finalModel)
            : new FineTuneResult(phase1, phase2, finalModel, (phase2 ?? phase1).History[^1].ValAccuracy, null);
    }

    /// <summary>Every process checks the options, and rank 0 that the run folder is new, before any work.</summary>
    private static int CheckBeforeWork(FineTuneOptions options, string runDirectory, Communicator world)
    {
        RankAgreement.Check(world, options);
        options.Validate();
        (options.Phase1() with { Processes = world.Size }).Validate();
        CheckPhase2Freeze(options);
        if (world.IsRoot && Directory.Exists(runDirectory) && Directory.EnumerateFileSystemEntries(runDirectory).Any())
        {
            throw new EfficientNetException($"'{runDirectory}' is not empty; choose another run folder");
        }
        return 0;
    }

    /// <summary>Rank 0's end: the final model, its evaluation on a validation folder, and evaluation.json.</summary>
    private static FineTuneResult Conclude(FineTuneOptions options, string runDirectory, TrainingResult phase1, TrainingResult? phase2, string finalModel)
    {
        AtomicFile.Copy((phase2 ?? phase1).FinalModelPath, finalModel);
        // A validation folder gets a full evaluation (per class, confusion); a held-out split is what
        // the last epoch already measured.
        var evaluation = options.Base.ValData is { } folder
            ? CheckpointEvaluation.Run(finalModel, new EvaluationRequest(options.Base.Dataset, folder, BatchSize: 64))
            : null;
        double accuracy = evaluation?.Accuracy ?? (phase2 ?? phase1).History[^1].ValAccuracy;
        AtomicFile.WriteAllText(Path.Combine(runDirectory, "evaluation.json"), JsonSerializer.Serialize(new
        {
            finalModel,
            evaluatedOn = options.Base.ValData ?? "held-out part of the training data",
            accuracy,
            perClassAccuracy = evaluation?.Classes.Zip(evaluation.PerClassAccuracy).ToDictionary(p => p.First, p => p.Second),
            phase1 = Summary(phase1),
            phase2 = phase2 is null ? null : Summary(phase2),
        }, Trainer.OptionsJson));
        return new FineTuneResult(phase1, phase2, finalModel, accuracy, evaluation);
    }

    /// <summary>
    /// Applies phase 2's freeze spec to the architecture phase 1 will build, so that an unfreeze count larger
    /// than the backbone fails now rather than after phase 1 has trained and written its run folder.
    /// </summary>
    private static void CheckPhase2Freeze(FineTuneOptions options)
    {
        if (!options.RunsPhase2)
        {
            return;
        }
        var resolved = Trainer.Resolve(options.Phase1());
        using var model = EfficientNetModel.Create(resolved.Variant!, new EfficientNetOptions { NumClasses = 2, CifarStem = resolved.CifarStem!.Value });
        Freezing.Apply(model, options.Phase2Freeze);
    }

    private static object Summary(TrainingResult r) => new
    {
        epochs = r.History.Count,
        seconds = r.History.Sum(h => h.Seconds),
        finalValidationAccuracy = r.History[^1].ValAccuracy,
        bestValidationAccuracy = r.BestAccuracy,
        bestEpoch = r.BestEpoch,
    };
}
