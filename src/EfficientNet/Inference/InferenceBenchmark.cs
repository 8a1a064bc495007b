using System.Diagnostics;
using EfficientNet.Layers;
using EfficientNet.Models;
using static TorchSharp.torch;

namespace EfficientNet.Inference;

/// <summary>How to run the inference benchmark.</summary>
public sealed record InferenceBenchmarkOptions
{
    /// <summary>Images per forward pass.</summary>
    public int Batch { get; init; } = 16;

    /// <summary>Square input resolution; null takes the model's.</summary>
    public int? Resolution { get; init; }

    /// <summary>Measured seconds (after warm-up).</summary>
    public double Seconds { get; init; } = 10;

    /// <summary>Untimed forward passes first (allocator, oneDNN primitive caches).</summary>
    public int WarmupIterations { get; init; } = 3;

    /// <summary>Channels-last layout and BatchNorm folding (see <see cref="InferenceOptimizer"/>).</summary>
    public InferenceSettings Settings { get; init; } = new();
}

/// <summary>Throughput and latency of a benchmark run.</summary>
/// <param name="Batch">Images per forward pass.</param>
/// <param name="Resolution">Input resolution.</param>
/// <param name="Iterations">Timed forward passes.</param>
/// <param name="Seconds">Timed seconds.</param>
/// <param name="ImagesPerSecond">Images classified per second.</param>
/// <param name="MillisecondsPerBatch">Mean latency of one forward pass.</param>
/// <param name="Threads">libtorch intra-op threads.</param>
/// <param name="Settings">Layout and BatchNorm folding used.</param>
public sealed record BenchmarkResult(int Batch, int Resolution, int Iterations, double Seconds, double ImagesPerSecond, double MillisecondsPerBatch, int Threads, InferenceSettings Settings);

/// <summary>
/// Measures eval-mode forward passes of a model on random input (the real inference path: the same
/// model class, <c>no_grad</c>, one dispose scope per pass). Not a unit test: it reports what it sees.
/// </summary>
public static class InferenceBenchmark
{
    /// <summary>Runs the benchmark; the model is prepared for inference as <see cref="InferenceBenchmarkOptions.Settings"/> say.</summary>
    public static BenchmarkResult Run(EfficientNetModel model, InferenceBenchmarkOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Batch <= 0)
        {
            throw new EfficientNetException($"--batch must be positive, got {options.Batch}");
        }
        if (options.Seconds <= 0)
        {
            throw new EfficientNetException($"--seconds must be positive, got {options.Seconds}");
        }
        int resolution = options.Resolution ?? model.Resolution;
        if (resolution < EfficientNetOptions.MinResolution)
        {
            throw new EfficientNetException($"the input resolution must be at least {EfficientNetOptions.MinResolution} pixels, got {resolution}");
        }
        InferenceOptimizer.Prepare(model, options.Settings);
        var device = model.parameters().First().device;
        using var input = MakeInput(options.Batch, resolution, options.Settings.ChannelsLast, device);
        using var noGrad = no_grad();

        for (int i = 0; i < options.WarmupIterations; i++)
        {
            Forward(model, input);
        }
        var clock = Stopwatch.StartNew();
        int iterations = 0;
        while (iterations == 0 || clock.Elapsed.TotalSeconds < options.Seconds)
        {
            Forward(model, input);
            iterations++;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        return new BenchmarkResult(options.Batch, resolution, iterations, seconds, iterations * options.Batch / seconds, 1000 * seconds / iterations, get_num_threads(), options.Settings);
    }

    private static Tensor MakeInput(int batch, int resolution, bool channelsLast, Device device)
    {
        using var scope = NewDisposeScope();
        var x = randn([batch, 3, resolution, resolution], device: device);
        return (channelsLast ? x.ToChannelsLast() : x).MoveToOuterDisposeScope();
    }

    private static void Forward(EfficientNetModel model, Tensor input)
    {
        using var scope = NewDisposeScope();
        var logits = model.call(input);
        // Reading a value forces completion on asynchronous devices (CUDA); on the CPU it is immediate.
        _ = logits[0, 0].item<float>();
    }
}
