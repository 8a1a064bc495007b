using EfficientNet.Data;
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

/// <summary>Evaluates a trained checkpoint on a labelled dataset.</summary>
public static class CheckpointEvaluation
{
    /// <summary>Loads <paramref name="checkpoint"/>, checks that the dataset's classes match it, and evaluates.</summary>
    public static EvaluationResult Run(string checkpoint, EvaluationRequest request, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var loaded = ModelLoader.Load(checkpoint);
        var model = loaded.Model;
        if (loaded.ClassNames is null)
        {
            throw new EfficientNetException($"'{checkpoint}' does not record its class names; evaluate needs a checkpoint written by effnet train");
        }
        ImageDataset data;
        Normalization normalization;
        if (request.Dataset == DatasetKind.Cifar10)
        {
            if (model.Resolution != 32)
            {
                throw new EfficientNetException($"'{checkpoint}' expects {model.Resolution}x{model.Resolution} input; CIFAR-10 images are 32x32");
            }
            string folder = request.Data ?? Cifar10.EnsureAvailable(request.CacheDirectory ?? new TrainOptions().CacheDirectory);
            data = Cifar10.Load(folder, request.Split);
            normalization = loaded.Normalization ?? Normalization.Cifar10;
        }
        else
        {
            data = ImageFolder.Load(request.Data ?? throw new EfficientNetException("--data is required for --dataset folder"), model.Resolution, loaded.ClassNames);
            normalization = loaded.Normalization ?? Normalization.ImageNet;
        }
        if (!data.Classes.SequenceEqual(loaded.ClassNames))
        {
            throw new EfficientNetException(
                $"the dataset's classes ({string.Join(", ", data.Classes)}) differ from the checkpoint's ({string.Join(", ", loaded.ClassNames)})");
        }
        device ??= CPU;
        model.to(device);
        InferenceOptimizer.Prepare(model, new InferenceSettings());
        var loader = new DataLoader(data, new LoaderOptions(request.BatchSize, Shuffle: false, DropLast: false, Seed: 0), normalization);
        return Evaluator.Run(model, loader, device);
    }
}
