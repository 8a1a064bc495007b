using EfficientNet.Data;
using EfficientNet.Imaging;
using EfficientNet.Inference;
using EfficientNet.Training.Options;
using EfficientNet.Weights;
using TorchSharp;
using static TorchSharp.torch;
using DataLoader = EfficientNet.Data.DataLoader;

namespace EfficientNet.Training.Evaluation;

/// <summary>What to evaluate a checkpoint on.</summary>
/// <param name="Dataset">CIFAR-10 or an image folder.</param>
/// <param name="Data">CIFAR-10 folder or image-folder root; null for CIFAR-10 uses the download cache.</param>
/// <param name="Split">CIFAR-10 split (test reads test_batch.bin).</param>
/// <param name="BatchSize">Images per forward pass.</param>
/// <param name="CacheDirectory">CIFAR-10 download cache.</param>
public sealed record EvaluationRequest(DatasetKind Dataset, string? Data, Cifar10Split Split = Cifar10Split.Test, int BatchSize = 256, string? CacheDirectory = null);

/// <summary>Evaluates a trained checkpoint (or its ONNX export) on a labelled dataset.</summary>
public static class CheckpointEvaluation
{
    /// <summary>
    /// Opens <paramref name="checkpoint"/> on the engine <paramref name="options"/> name, checks that the
    /// dataset's classes match it, and evaluates.
    /// </summary>
    public static EvaluationResult Run(string checkpoint, EvaluationRequest request, ClassifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        bool cifar = request.Dataset == DatasetKind.Cifar10;
        using var classifier = Classifier.Open(checkpoint, (options ?? new ClassifierOptions()) with
        {
            DefaultNormalization = cifar ? Normalization.Cifar10 : Normalization.ImageNet,
        });
        var info = classifier.Info;
        var data = Dataset(request, info, checkpoint);
        var loader = new DataLoader(data, new LoaderOptions(request.BatchSize, Shuffle: false, DropLast: false, Seed: 0), info.Preprocessing.Normalization);
        return Evaluator.Run(classifier.Engine.Logits, loader);
    }

    /// <summary>
    /// The labelled images <paramref name="request"/> names, shaped as <paramref name="info"/>'s preprocessing says,
    /// whose classes are the model's (a description without class names takes the dataset's when the counts agree).
    /// </summary>
    private static ImageDataset Dataset(EvaluationRequest request, ClassifierInfo info, string checkpoint)
    {
        var data = Images(request, info.Preprocessing, info.ClassNames);
        // A plain state dict records no class names: its outputs are taken to be the dataset's classes in order
        // (sorted folder names, as torchvision's ImageFolder numbers them), when the counts agree.
        if (info.ClassNames is null && data.Classes.Count != info.NumClasses)
        {
            throw new EfficientNetException(
                $"'{checkpoint}' records no class names and has {info.NumClasses} outputs, but the dataset has {data.Classes.Count} classes");
        }
        var classNames = info.ClassNames ?? data.Classes;
        if (!data.Classes.SequenceEqual(classNames))
        {
            throw new EfficientNetException(
                $"the dataset's classes ({string.Join(", ", data.Classes)}) differ from the checkpoint's ({string.Join(", ", classNames)})");
        }
        return data;
    }

    /// <summary>
    /// The images <paramref name="request"/> names as <paramref name="preprocessing"/> shapes them for prediction (CIFAR-10's
    /// are resized to its crop size); a folder's classes are <paramref name="classes"/> when given (in that order), else its sorted subfolders.
    /// </summary>
    public static ImageDataset Images(EvaluationRequest request, Preprocessing preprocessing, IReadOnlyList<string>? classes)
    {
        if (request.Dataset == DatasetKind.Cifar10)
        {
            return Cifar10.Load(request.Data ?? Cifar10.EnsureAvailable(request.CacheDirectory ?? Cifar10.DefaultCacheDirectory), request.Split)
                .Resized(preprocessing.CropSize);
        }
        // Streamed: each image is read once either way, and memory then holds batches, not the set.
        return ImageFolder.Stream(request.Data ?? throw new EfficientNetException("EvaluationRequest.Data is required for DatasetKind.Folder"), preprocessing, classes);
    }
}
