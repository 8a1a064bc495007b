using System.Diagnostics;
using EfficientNet.Data;
using EfficientNet.Imaging;
using EfficientNet.Models;
using EfficientNet.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using DataLoader = EfficientNet.Data.DataLoader;

namespace EfficientNet.Training;

/// <summary>
/// Trains only the classifier on features the frozen backbone computes once: each image goes through
/// the backbone a single time instead of once per epoch, which on a CPU makes phase 1 of fine-tuning
/// many times faster. Images are not augmented (a cached feature is of one fixed view). Writes the
/// same run folder as <see cref="Trainer"/>; its last.safetensors holds the whole model.
/// </summary>
internal static class CachedFeatureTraining
{
    /// <summary>Runs head-only training for <paramref name="options"/> (which must freeze the backbone).</summary>
    public static TrainingResult Train(TrainOptions options, string runDirectory, ITrainingObserver? observer = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!options.Freeze.Backbone || options.Freeze.LastLayers + options.Freeze.LastBlocks + options.Freeze.Stages.Count > 0)
        {
            throw new EfficientNetException("cached features need the whole backbone frozen (phase 1: head only)");
        }
        options = Trainer.Resolve(options);
        RunFolder.Create(runDirectory, options);
        if (IntraOpThreads.SetProcessThreads(options.Threads).Warning is { } warning)
        {
            observer?.Message(warning);
        }
        var device = Devices.Parse(options.Device);
        manual_seed(options.Seed);

        var (train, validation, normalization) = TrainingData.Load(options, note => observer?.Message(note));
        using var model = Trainer.BuildModel(options, train.Classes.Count, null, ref normalization);
        model.to(device);
        string description = $"{model.Spec.DisplayName}{(model.Options.Cifar ? " (CIFAR stem)" : "")}, {model.NumClasses} classes, {model.Resolution}x{model.Resolution}, cached features";
        var folder = new RunFolder(runDirectory, train.Classes, normalization, description);

        var clock = Stopwatch.StartNew();
        using var trainFeatures = Features(model, train, normalization, options, device, cancellation);
        using var validationFeatures = Features(model, validation, normalization, options, device, cancellation);
        observer?.Message($"backbone features computed once for {train.Count} + {validation.Count} images in {clock.Elapsed.TotalSeconds:F0} s");
        using var trainLabels = tensor(train.Labels.Select(l => (long)l).ToArray()).to(device);
        using var validationLabels = tensor(validation.Labels.Select(l => (long)l).ToArray()).to(device);

        var head = model.Classifier;
        using var optimizer = Trainer.CreateOptimizer(options, head);
        var schedule = new LearningRateSchedule(options, (train.Count + options.BatchSize - 1) / options.BatchSize);
        var step = new TrainStep(head, optimizer, options.LabelSmoothing, device);
        observer?.Started(new TrainingStart(options, description, train.Count, validation.Count, (train.Count + options.BatchSize - 1) / options.BatchSize, runDirectory, null));

        var history = new List<EpochRecord>();
        var stopping = new EarlyStopping(options.EarlyStoppingPatience);
        long stepIndex = 0;
        for (int epoch = 0; epoch < options.Epochs && !stopping.ShouldStop; epoch++)
        {
            clock.Restart();
            int[] order = Enumerable.Range(0, train.Count).ToArray();
            new Random(DataLoader.Seed(options.Seed, epoch, -1)).Shuffle(order);
            model.train();
            double lossSum = 0;
            long correct = 0;
            double lr = schedule.At(stepIndex);
            for (int start = 0; start < order.Length; start += options.BatchSize)
            {
                cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var index = tensor(order.AsSpan(start, Math.Min(options.BatchSize, order.Length - start)).ToArray().Select(i => (long)i).ToArray()).to(device);
                lr = schedule.At(stepIndex++);
                var (loss, right) = step.Run(trainFeatures.index_select(0, index), trainLabels.index_select(0, index), null, lr);
                lossSum += loss * index.shape[0];
                correct += right;
            }
            double trainSeconds = clock.Elapsed.TotalSeconds;
            var (valLoss, valAccuracy) = Evaluate(head, validationFeatures, validationLabels, options.LabelSmoothing);
            var record = new EpochRecord(epoch + 1, lossSum / train.Count, (double)correct / train.Count, valLoss, valAccuracy, lr,
                clock.Elapsed.TotalSeconds, train.Count / Math.Max(1e-9, trainSeconds), ResidentMemory.ReleaseAndMeasure());
            history.Add(record);
            bool best = stopping.Update(epoch + 1, valAccuracy);
            folder.EndEpoch(model, optimizer, average: null, new TrainingState { Epoch = epoch + 1, Step = stepIndex, BestAccuracy = stopping.Best, BestEpoch = stopping.BestEpoch, StopWait = stopping.Wait, History = history }, best);
            observer?.EpochDone(record, best);
        }
        return new TrainingResult(runDirectory, history, stopping.Best, stopping.BestEpoch, stopping.ShouldStop, Interrupted: false);
    }

    /// <summary>Pooled backbone features (N, C) of every image, in dataset order, without augmentation.</summary>
    private static Tensor Features(EfficientNetModel model, ImageDataset data, Normalization normalization, TrainOptions options, Device device, CancellationToken cancellation)
    {
        var loader = new DataLoader(data, new LoaderOptions(options.BatchSize, Shuffle: false, DropLast: false, options.Seed, Prefetch: 0, options.ChannelsLast), normalization);
        var parts = new List<Tensor>();
        model.eval();
        using var noGrad = no_grad();
        foreach (var batch in loader.Epoch(0, 0, cancellation))
        {
            using (batch)
            using (var scope = NewDisposeScope())
            {
                parts.Add(model.ForwardHead(model.ForwardFeatures(batch.Images.to(device)), preLogits: true).MoveToOuterDisposeScope());
            }
        }
        var all = cat(parts, 0);
        parts.ForEach(p => p.Dispose());
        return all;
    }

    private static (double Loss, double Accuracy) Evaluate(nn.Module<Tensor, Tensor> head, Tensor features, Tensor labels, double labelSmoothing)
    {
        head.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var logits = head.call(features);
        double loss = nn.functional.cross_entropy(logits, labels, label_smoothing: labelSmoothing).item<float>();
        double accuracy = logits.argmax(1).eq(labels).to(float32).mean().item<float>();
        return (loss, accuracy);
    }
}
