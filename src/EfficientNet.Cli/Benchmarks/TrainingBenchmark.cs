using System.Diagnostics;
using EfficientNet.Data;
using EfficientNet.Layers;
using EfficientNet.Models;
using EfficientNet.Runtime;
using EfficientNet.Training.Distributed;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Cli.Benchmarks;

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
/// <param name="Batch">Images per step (over all processes).</param>
/// <param name="Iterations">Timed steps.</param>
/// <param name="Seconds">Timed seconds.</param>
/// <param name="ImagesPerSecond">Training images per second (over all processes).</param>
/// <param name="ResidentMegabytes">RSS after each memory-check epoch (rank 0's).</param>
/// <param name="Processes">Data-parallel processes (1 without a launcher).</param>
/// <param name="AllReduceShare">Share of the timed seconds rank 0 spent summing gradients over the processes (0 for one).</param>
internal sealed record TrainingBenchmarkResult(int Batch, int Iterations, double Seconds, double ImagesPerSecond, IReadOnlyList<double> ResidentMegabytes, int Processes, double AllReduceShare)
{
    /// <summary>Growth of RSS from the end of the first memory-check epoch to the end of the last, in percent.</summary>
    public double MemoryGrowthPercent => ResidentMegabytes.Count < 2 ? 0 : 100 * (ResidentMegabytes[^1] - ResidentMegabytes[0]) / ResidentMegabytes[0];
}

/// <summary>
/// Measures full training steps (the <see cref="TrainStep"/> the trainer runs: forward, label-smoothed
/// cross-entropy, backward, Adam) of the CIFAR variant on random 32x32 batches. bench/pytorch_train.py
/// runs the same step in PyTorch. Under an MPI launcher every process runs its share of each batch, data-parallel as
/// in training, and rank 0 ends the timed part for all.
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
        int share = new DataShare(World.Rank, World.Size).OfBatch(options.Batch);
        manual_seed(0);
        using var model = EfficientNetModel.Create(options.Variant, new EfficientNetOptions { NumClasses = 10, CifarStem = true });
        model.to(device);
        model.train();
        var trainOptions = new TrainOptions { LearningRate = 1e-3 };
        using var optimizer = Trainer.CreateOptimizer(trainOptions, model);
        using var step = new TrainStep(model, optimizer, trainOptions.LabelSmoothing, device);
        var batches = RandomBatches(share, options.ChannelsLast);
        try
        {
            int n = 0;
            bool Step(CancellationToken stop = default)
            {
                var (images, labels) = batches[n++ % batches.Length];
                return step.Run(images, labels, null, trainOptions.LearningRate, stop).StopRequested;
            }

            for (int i = 0; i < 3; i++)
            {
                Step();
            }
            double communicationBefore = step.CommunicationSeconds;
            var (iterations, seconds) = Timed(Step, options.Seconds);
            double allReduce = step.CommunicationSeconds - communicationBefore;
            var rss = new List<double>();
            for (int epoch = 0; epoch < options.Epochs; epoch++)
            {
                for (int i = 0; i < options.StepsPerEpoch; i++)
                {
                    Step();
                }
                rss.Add(ProcessResources.ResidentMegabytesAfterRelease());
            }
            return new TrainingBenchmarkResult(options.Batch, iterations, seconds, iterations * options.Batch / seconds, rss, World.Size, allReduce / seconds);
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

    // A few different batches of this process's share, so the step does not run on one cached input.
    private static (Tensor Images, Tensor Labels)[] RandomBatches(int share, bool channelsLast) =>
    [
        .. Enumerable.Range(0, 4).Select(_ =>
        {
            using var x = randn(share, 3, Cifar10.ImageSize, Cifar10.ImageSize);
            return (channelsLast ? x.ToChannelsLast() : x.clone(), randint(0, 10, [share]));
        }),
    ];

    // Steps until rank 0's clock passes `seconds`; the step's stop all-reduce tells the others, so all run the same steps.
    private static (int Iterations, double Seconds) Timed(Func<CancellationToken, bool> step, double seconds)
    {
        using var timeUp = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        int iterations = 0;
        while (true)
        {
            if (World.Rank == 0 && iterations > 0 && clock.Elapsed.TotalSeconds >= seconds)
            {
                timeUp.Cancel();
            }
            if (step(timeUp.Token))
            {
                return (iterations, clock.Elapsed.TotalSeconds);
            }
            iterations++;
        }
    }
}
