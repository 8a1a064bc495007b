using System.Diagnostics;
using EfficientNet.Layers;
using EfficientNet.Models;
using EfficientNet.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Training;

/// <summary>How to run the training benchmark.</summary>
internal sealed record TrainingBenchmarkOptions
{
    /// <summary>Variant, built with the CIFAR stem for 32x32 input and 10 classes.</summary>
    public string Variant { get; init; } = "b0";

    /// <summary>Images per step.</summary>
    public int Batch { get; init; } = 128;

    /// <summary>Timed seconds for the throughput figure.</summary>
    public double Seconds { get; init; } = 20;

    /// <summary>Memory check: epochs of <see cref="StepsPerEpoch"/> steps after the timed part (0: skip).</summary>
    public int Epochs { get; init; } = 3;

    /// <summary>Steps per memory-check epoch.</summary>
    public int StepsPerEpoch { get; init; } = 30;

    /// <summary>NHWC input batches.</summary>
    public bool ChannelsLast { get; init; } = true;
}

/// <summary>Throughput of training steps, and resident memory after each memory-check epoch.</summary>
/// <param name="Batch">Images per step.</param>
/// <param name="Iterations">Timed steps.</param>
/// <param name="Seconds">Timed seconds.</param>
/// <param name="ImagesPerSecond">Training images per second.</param>
/// <param name="ResidentMegabytes">RSS after each memory-check epoch.</param>
internal sealed record TrainingBenchmarkResult(int Batch, int Iterations, double Seconds, double ImagesPerSecond, IReadOnlyList<double> ResidentMegabytes)
{
    /// <summary>Growth of RSS from the end of the first memory-check epoch to the end of the last, in percent.</summary>
    public double MemoryGrowthPercent => ResidentMegabytes.Count < 2 ? 0 : 100 * (ResidentMegabytes[^1] - ResidentMegabytes[0]) / ResidentMegabytes[0];
}

/// <summary>
/// Measures full training steps (the <see cref="TrainStep"/> the trainer runs: forward, label-smoothed
/// cross-entropy, backward, Adam) of the CIFAR variant on random 32x32 batches. bench/pytorch_train.py
/// runs the same step in PyTorch.
/// </summary>
internal static class TrainingBenchmark
{
    /// <summary>Runs the benchmark.</summary>
    public static TrainingBenchmarkResult Run(TrainingBenchmarkOptions options, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Batch <= 0 || options.Seconds <= 0 || options.Epochs < 0 || options.StepsPerEpoch <= 0)
        {
            throw new EfficientNetException("--batch, --seconds and --steps must be positive and --epochs 0 or positive");
        }
        device ??= CPU;
        manual_seed(0);
        using var model = EfficientNetModel.Create(options.Variant, new EfficientNetOptions { NumClasses = 10, Cifar = true });
        model.to(device);
        model.train();
        var trainOptions = new TrainOptions { LearningRate = 1e-3 };
        using var optimizer = Trainer.CreateOptimizer(trainOptions, model);
        var step = new TrainStep(model, optimizer, trainOptions.LabelSmoothing, device);

        // A few different batches, so the step does not run on one cached input.
        var batches = Enumerable.Range(0, 4).Select(_ =>
        {
            using var x = randn(options.Batch, 3, 32, 32);
            return (Images: options.ChannelsLast ? x.ToChannelsLast() : x.clone(), Labels: randint(0, 10, [options.Batch]));
        }).ToArray();
        try
        {
            int n = 0;
            void Step()
            {
                var (images, labels) = batches[n++ % batches.Length];
                step.Run(images, labels, null, trainOptions.LearningRate);
            }

            for (int i = 0; i < 3; i++)
            {
                Step();
            }
            var clock = Stopwatch.StartNew();
            int iterations = 0;
            while (iterations == 0 || clock.Elapsed.TotalSeconds < options.Seconds)
            {
                Step();
                iterations++;
            }
            double seconds = clock.Elapsed.TotalSeconds;

            var rss = new List<double>();
            for (int epoch = 0; epoch < options.Epochs; epoch++)
            {
                for (int i = 0; i < options.StepsPerEpoch; i++)
                {
                    Step();
                }
                rss.Add(ResidentMemory.ReleaseAndMeasure());
            }
            return new TrainingBenchmarkResult(options.Batch, iterations, seconds, iterations * options.Batch / seconds, rss);
        }
        finally
        {
            foreach (var (images, labels) in batches)
            {
                images.Dispose();
                labels.Dispose();
            }
        }
    }
}
