using System.Diagnostics;
using EfficientNet.Data;
using EfficientNet.Data.Augmentation;
using EfficientNet.Imaging;
using EfficientNet.Models;
using EfficientNet.Training.Distributed;
using EfficientNet.Training.Evaluation;
using EfficientNet.Training.Options;
using EfficientNet.Training.Reporting;
using TorchSharp;
using static TorchSharp.torch;
using DataLoader = EfficientNet.Data.DataLoader;

namespace EfficientNet.Training.Running;

/// <summary>
/// What the training loop feeds and validates on: augmented image batches through the whole model, or backbone
/// features computed once through the head only (<see cref="TrainOptions.CachedFeatures"/>).
/// </summary>
internal interface ITrainingInputs : IDisposable
{
    /// <summary>Training batches per epoch.</summary>
    int BatchesPerEpoch { get; }

    /// <summary>The module a batch goes through and the optimizer updates: the model, or its head.</summary>
    nn.Module<Tensor, Tensor> Trained(EfficientNetModel model);

    /// <summary>The training batches of 0-based <paramref name="epoch"/>, from <paramref name="startBatch"/> on.</summary>
    IEnumerable<Batch> Epoch(int epoch, int startBatch);

    /// <summary>Validation loss and accuracy of <paramref name="model"/> (the trained model or its weight average).</summary>
    EvaluationResult Validate(EfficientNetModel model, double labelSmoothing, CancellationToken cancellation);
}

/// <summary>
/// Image batches, augmented for training, through the whole model. In a data-parallel job each process takes its
/// share of every training batch and of the validation images (every W-th one), and validation sums are added up over
/// the processes.
/// </summary>
internal sealed class ImageInputs(ImageDataset train, ImageDataset validation, Normalization normalization, TrainOptions options, Device device, Communicator world) : ITrainingInputs
{
    private static int Prefetch(TrainOptions options) => options.Prefetch ?? (Environment.ProcessorCount > get_num_threads() ? 3 : 0);

    /// <summary>
    /// Streamed images prepared ahead, while the model trains, are decoded by the cores libtorch leaves free (unless
    /// the workers are given); prepared between steps, they are decoded by every core.
    /// </summary>
    private static ImageDataset Decoded(ImageDataset data, TrainOptions options) =>
        options.Images.Workers == 0 && Prefetch(options) > 0 ? data.WithWorkers(Math.Max(1, Environment.ProcessorCount - get_num_threads())) : data;

    private readonly DataLoader trainLoader = new(
        Decoded(train, options),
        new LoaderOptions(options.BatchSize, Shuffle: true, DropLast: true, options.Seed, Prefetch(options), options.ChannelsLast) { Share = Share(world) },
        normalization,
        options.Augmentation);

    // This process's validation images, in batches as large as its training share.
    private readonly DataLoader? validationLoader = Mine(Decoded(validation, options), world) is { Count: > 0 } mine
        ? new(mine, new LoaderOptions(Share(world).OfBatch(options.BatchSize), Shuffle: false, DropLast: false, options.Seed, Prefetch(options), options.ChannelsLast), normalization)
        : null;

    private static DataShare Share(Communicator world) => new(world.Rank, world.Size);

    private static ImageDataset Mine(ImageDataset data, Communicator world) =>
        world.IsDistributed ? data.Subset(Share(world).Of(data.Count), $"{data.Source} (share {world.Rank + 1} of {world.Size})") : data;

    public int BatchesPerEpoch => trainLoader.BatchesPerEpoch;

    public nn.Module<Tensor, Tensor> Trained(EfficientNetModel model) => model;

    // Not cancelled from outside: the loop checks its token after each step, so the step in flight finishes and the
    // checkpoint records a clean batch boundary.
    public IEnumerable<Batch> Epoch(int epoch, int startBatch) => trainLoader.Epoch(epoch, startBatch, CancellationToken.None);

    public EvaluationResult Validate(EfficientNetModel model, double labelSmoothing, CancellationToken cancellation)
    {
        EvaluationResult? local;
        if (!world.IsDistributed)
        {
            local = validationLoader is null ? null : Evaluator.Run(model, validationLoader, device, labelSmoothing, cancellation);
        }
        else
        {
            // Every process takes its turns, with or without images of its own.
            var batches = AgreeingOnStop(validationLoader?.Epoch(0, 0, CancellationToken.None) ?? [], cancellation);
            var evaluated = Evaluator.Run(model, batches, validation.Classes, device, labelSmoothing);
            local = validationLoader is null ? null : evaluated;
        }
        return EvaluationResult.Sum(local, validation.Classes, world);
    }

    /// <summary>
    /// This process's validation batches, with every process agreeing before each whether any was asked to stop (then
    /// all throw <see cref="OperationCanceledException"/> together), so a stop waits for one batch, not the whole
    /// validation; every process takes as many turns as the largest share has batches.
    /// </summary>
    private IEnumerable<Batch> AgreeingOnStop(IEnumerable<Batch> mine, CancellationToken cancellation)
    {
        var share = Share(world);
        int largestShare = share.Largest(validation.Count);
        int perBatch = share.OfBatch(options.BatchSize);
        using var batches = mine.GetEnumerator();
        for (int turn = 0; turn < (largestShare + perBatch - 1) / perBatch; turn++)
        {
            if (world.AnyStopRequested(cancellation))
            {
                throw new OperationCanceledException("stopped during validation");
            }
            if (batches.MoveNext())
            {
                yield return batches.Current;
            }
        }
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// Pooled features of every image, computed once by the frozen backbone (without augmentation: a cached feature is of
/// one fixed view), so each epoch runs only the head: on a CPU many times faster than images through the backbone.
/// Batches are shuffled per epoch like the image loader's, the last one may be smaller.
/// </summary>
internal sealed class CachedFeatureInputs : ITrainingInputs
{
    private readonly Tensor trainFeatures, trainLabels, validationFeatures, validationLabels;
    private readonly IReadOnlyList<string> classes;
    private readonly int batchSize, seed;
    private readonly Device device;

    private CachedFeatureInputs(Tensor trainFeatures, Tensor trainLabels, Tensor validationFeatures, Tensor validationLabels, IReadOnlyList<string> classes, TrainOptions options, Device device)
    {
        (this.trainFeatures, this.trainLabels, this.validationFeatures, this.validationLabels) = (trainFeatures, trainLabels, validationFeatures, validationLabels);
        (this.classes, batchSize, seed, this.device) = (classes, options.BatchSize, options.Seed, device);
    }

    /// <summary>Runs every image of both sets through <paramref name="model"/>'s backbone once.</summary>
    public static CachedFeatureInputs Compute(
        EfficientNetModel model, ImageDataset train, ImageDataset validation, Normalization normalization, TrainOptions options, Device device, ITrainingObserver? observer, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        var trainFeatures = Features(model, train, normalization, options, device, cancellation);
        var validationFeatures = Features(model, validation, normalization, options, device, cancellation);
        observer?.Message($"backbone features computed once for {train.Count} + {validation.Count} images in {clock.Elapsed.TotalSeconds:F0} s");
        return new CachedFeatureInputs(trainFeatures, Labels(train, device), validationFeatures, Labels(validation, device), train.Classes, options, device);
    }

    public int BatchesPerEpoch => (int)((trainLabels.shape[0] + batchSize - 1) / batchSize);

    public nn.Module<Tensor, Tensor> Trained(EfficientNetModel model) => model.Classifier;

    public IEnumerable<Batch> Epoch(int epoch, int startBatch)
    {
        int[] order = Enumerable.Range(0, (int)trainLabels.shape[0]).ToArray();
        new Random(DataLoader.Seed(seed, epoch, -1)).Shuffle(order);
        for (int b = startBatch; b < BatchesPerEpoch; b++)
        {
            yield return Slice(trainFeatures, trainLabels, order.AsSpan(b * batchSize, Math.Min(batchSize, order.Length - b * batchSize)), b);
        }
    }

    public EvaluationResult Validate(EfficientNetModel model, double labelSmoothing, CancellationToken cancellation) =>
        Evaluator.Run(model.Classifier, ValidationBatches(cancellation), classes, device, labelSmoothing);

    public void Dispose()
    {
        foreach (var t in new[] { trainFeatures, trainLabels, validationFeatures, validationLabels })
        {
            t.Dispose();
        }
    }

    private IEnumerable<Batch> ValidationBatches(CancellationToken cancellation)
    {
        int count = (int)validationLabels.shape[0];
        int[] all = Enumerable.Range(0, count).ToArray();
        for (int start = 0, b = 0; start < count; start += batchSize, b++)
        {
            cancellation.ThrowIfCancellationRequested();
            yield return Slice(validationFeatures, validationLabels, all.AsSpan(start, Math.Min(batchSize, count - start)), b);
        }
    }

    private static Batch Slice(Tensor features, Tensor labels, ReadOnlySpan<int> rows, int index)
    {
        using var at = tensor(rows.ToArray().Select(i => (long)i).ToArray()).to(features.device);
        return new Batch(features.index_select(0, at), null, labels.index_select(0, at), index);
    }

    private static Tensor Labels(ImageDataset data, Device device) => tensor(data.Labels.Select(l => (long)l).ToArray()).to(device);

    /// <summary>Pooled backbone features (N, C) of every image, in dataset order, without augmentation.</summary>
    private static Tensor Features(EfficientNetModel model, ImageDataset data, Normalization normalization, TrainOptions options, Device device, CancellationToken cancellation)
    {
        var loader = new DataLoader(data, new LoaderOptions(options.BatchSize, Shuffle: false, DropLast: false, options.Seed, Prefetch: 0, options.ChannelsLast), normalization);
        var parts = new List<Tensor>();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            foreach (var batch in loader.Epoch(0, 0, cancellation))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    parts.Add(model.ForwardHead(model.ForwardFeatures(batch.Images.to(device)), preLogits: true).MoveToOuterDisposeScope());
                }
            }
            return cat(parts, 0);
        }
        finally
        {
            parts.ForEach(p => p.Dispose());
            model.train(wasTraining);
        }
    }
}
