using System.Text.RegularExpressions;
using EfficientNet.Inference.Batch;

namespace EfficientNet.Cli;

/// <summary>
/// The libraries name an option by its property (<c>TrainOptions.Epochs</c>, <c>EngineKind.OnnxRuntime</c>); the
/// tool's user knows it as a flag (<c>--epochs</c>, <c>--engine onnxruntime</c>). Errors, warnings and run messages
/// pass through <see cref="Rewrite"/> on their way to the terminal; a name without a flag stays as it is.
/// </summary>
internal static partial class OptionFlags
{
    /// <summary>Property (or enum value) as the libraries write it, and the command line's spelling.</summary>
    internal static readonly IReadOnlyDictionary<string, string> Flags = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["TrainOptions.Epochs"] = "--epochs",
        ["TrainOptions.BatchSize"] = "--batch",
        ["TrainOptions.Resolution"] = "--resolution",
        ["TrainOptions.Threads"] = "--threads",
        ["TrainOptions.LearningRate"] = "--lr",
        ["TrainOptions.WeightDecay"] = "--weight-decay",
        ["TrainOptions.WarmupEpochs"] = "--warmup-epochs",
        ["TrainOptions.LabelSmoothing"] = "--label-smoothing",
        ["TrainOptions.ValFraction"] = "--val-fraction",
        ["TrainOptions.EarlyStoppingPatience"] = "--patience",
        ["TrainOptions.PlateauPatience"] = "--plateau-patience",
        ["TrainOptions.PlateauFactor"] = "--plateau-factor",
        ["TrainOptions.MinLearningRate"] = "--min-lr",
        ["TrainOptions.EmaDecay"] = "--ema",
        ["TrainOptions.MaxBatchesPerEpoch"] = "--max-batches",
        ["TrainOptions.TrainLimit"] = "--train-limit",
        ["TrainOptions.Prefetch"] = "--prefetch",
        ["TrainOptions.Data"] = "--data",
        ["TrainOptions.InitialWeights"] = "--initial-weights",
        ["TrainOptions.ValData"] = "--val-data",
        ["TrainOptions.Variant"] = "--variant",
        ["TrainOptions.CifarStem"] = "--cifar-stem",
        ["TrainOptions.Head"] = "--head",
        ["TrainOptions.Dropout"] = "--dropout",
        ["TrainOptions.StochasticDepth"] = "--stochastic-depth",
        ["TrainOptions.Optimizer"] = "--optimizer",
        ["TrainOptions.Momentum"] = "--momentum",
        ["TrainOptions.Nesterov"] = "--nesterov",
        ["TrainOptions.Schedule"] = "--schedule",
        ["TrainOptions.Seed"] = "--seed",
        ["TrainOptions.CachedFeatures"] = "--cache-features",
        ["TrainOptions.ReplaceHead"] = "--replace-head",
        ["LoadOptions.SkipClassifier"] = "--replace-head",
        ["EvaluationRequest.Data"] = "--data",
        ["DatasetKind.Folder"] = "--dataset folder",
        ["ImageReading.Workers"] = "--workers",
        ["ImageReading.Cache"] = "--image-cache",
        ["ImageReading.RandomResizedCrop"] = "--random-resized-crop",
        ["ImageReading.SkipBadImages"] = "--skip-bad-images",
        ["Int8ExportOptions.WeightBits"] = "--weight-bits",
        ["Int8ExportOptions.Percentile"] = "--percentile",
        ["Int8ExportOptions.CalibrationImages"] = "--calibration-images",
        ["Int8ExportOptions.CheckImages"] = "--check-images",
        ["Int8ExportOptions.MaxDrop"] = "--max-drop",
        ["Int8ExportOptions.Threads"] = "--threads",
        ["AugmentationOptions.CropPadding"] = "--crop-padding",
        ["AugmentationOptions.Cutout"] = "--cutout",
        ["AugmentationOptions.Mixup"] = "--mixup",
        ["AugmentationOptions.Cutmix"] = "--cutmix",
        ["FineTuneOptions.Phase1Epochs"] = "--phase1-epochs",
        ["FineTuneOptions.Phase2Epochs"] = "--phase2-epochs",
        ["FineTuneOptions.Unfreeze"] = "--unfreeze",
        ["Trainer.Resume"] = "--resume",
        ["Trainer.Train"] = "effnet train --out",
        ["BatchPredictionOptions.Shard"] = "--shard",
        ["BatchPredictionOptions.Batch"] = "--batch",
        ["BatchPredictionOptions.Top"] = "--top",
        ["ClassifierOptions.Variant"] = "--variant",
        ["LoadOptions.Variant"] = "--variant",
        ["EngineKind.OnnxRuntime"] = "--engine onnxruntime",
        ["EngineKind.Torch"] = "--engine torch",
        ["OnnxExporter.Export"] = "effnet export",
        ["ServingOptions.Name"] = "--name",
        ["ServingOptions.Threads"] = "--threads",
        ["ServingOptions.Workers"] = "--workers",
        ["ServingOptions.Device"] = "--device",
        ["ServingOptions.MaxBatch"] = "--max-batch",
        ["ServingOptions.MaxDelay"] = "--max-delay-ms",
        ["ServingOptions.MaxQueue"] = "--max-queue",
        ["ServingOptions.MaxBodyBytes"] = "--max-body-mb",
        ["OnnxExportOptions.Opset"] = "--opset",
        ["OnnxExportOptions.Batch"] = "--batch",
    };

    /// <summary><paramref name="message"/> with every mapped property name replaced by its flag.</summary>
    public static string Rewrite(string message) =>
        QualifiedName().Replace(message, m => Flags.TryGetValue(m.Value, out string? flag) ? flag : m.Value);

    [GeneratedRegex(@"\b[A-Z][A-Za-z0-9]*\.[A-Z][A-Za-z0-9]*\b")]
    private static partial Regex QualifiedName();
}
