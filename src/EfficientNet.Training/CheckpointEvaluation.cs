using EfficientNet.Data;
using EfficientNet.Imaging;
using EfficientNet.Inference;
using EfficientNet.Weights;
using TorchSharp;
using static TorchSharp.torch;
using DataLoader = EfficientNet.Data.DataLoader;

namespace EfficientNet.Training;

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
        var classNames = info.ClassNames;
        ImageDataset data;
        if (cifar)
        {
            data = Cifar10.Load(request.Data ?? Cifar10.EnsureAvailable(request.CacheDirectory ?? IO.Downloads.DefaultCacheDirectory), request.Split)
                .Resized(info.Resolution);
        }
        else
        {
            // Streamed: each image is read once either way, and memory then holds batches, not the set (the centre
            // squares are the bytes a folder decoded into memory holds).
            data = ImageFolder.Stream(request.Data ?? throw new EfficientNetException("EvaluationRequest.Data is required for DatasetKind.Folder"), info.Resolution, classNames, SampleGeometry.CentreCrop, workers: 0);
        }
        // A plain state dict records no class names: its outputs are taken to be the dataset's classes in order
        // (sorted folder names, as torchvision's ImageFolder numbers them), when the counts agree.
        if (classNames is null && data.Classes.Count != info.NumClasses)
        {
            throw new EfficientNetException(
                $"'{checkpoint}' records no class names and has {info.NumClasses} outputs, but the dataset has {data.Classes.Count} classes");
        }
        classNames ??= data.Classes;
        if (!data.Classes.SequenceEqual(classNames))
        {
            throw new EfficientNetException(
                $"the dataset's classes ({string.Join(", ", data.Classes)}) differ from the checkpoint's ({string.Join(", ", classNames)})");
        }
        var loader = new DataLoader(data, new LoaderOptions(request.BatchSize, Shuffle: false, DropLast: false, Seed: 0), info.Preprocessing.Normalization);
        return Evaluator.Run(classifier.Engine.Logits, loader);
    }
}
