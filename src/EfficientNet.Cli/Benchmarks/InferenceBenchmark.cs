using System.Diagnostics;
using EfficientNet.Inference.Engines;
using EfficientNet.Inference;
using EfficientNet.Layers;
using EfficientNet.Models;
using EfficientNet.Runtime;
using static TorchSharp.torch;

namespace EfficientNet.Cli.Benchmarks;

/// <summary>How to run the inference benchmark.</summary>
internal sealed record InferenceBenchmarkOptions
{
    /// <summary>Images per forward pass.</summary>
    public int Batch { get; init; } = 16;

    /// <summary>Measured seconds (after warm-up).</summary>
    public double Seconds { get; init; } = 10;

    /// <summary>Untimed forward passes first (allocator, oneDNN primitive caches, ONNX Runtime's first-run planning).</summary>
    public int WarmupIterations { get; init; } = 3;

    /// <summary>The variant the engine runs, when known: a batch its activations would not fit in memory is refused.</summary>
    public string? Variant { get; init; }

    /// <summary>Forward passes run at once on the engine, each from its own thread (as effnet serve's workers run batches).</summary>
    public int Workers { get; init; } = 1;
}

/// <summary>Throughput and latency of a benchmark run.</summary>
/// <param name="Batch">Images per forward pass.</param>
/// <param name="Resolution">Input resolution.</param>
/// <param name="Iterations">Timed forward passes, of all workers.</param>
/// <param name="Seconds">Timed seconds.</param>
/// <param name="ImagesPerSecond">Images classified per second.</param>
/// <param name="MillisecondsPerBatch">Mean latency of one forward pass.</param>
/// <param name="Workers">Forward passes run at once.</param>
internal sealed record BenchmarkResult(int Batch, int Resolution, int Iterations, double Seconds, double ImagesPerSecond, double MillisecondsPerBatch, int Workers);

/// <summary>
/// Measures an engine's forward passes on random input through the real inference path
/// (<see cref="IClassifierEngine.Logits"/>: for TorchSharp the prepared model under <c>no_grad</c>, for ONNX
/// Runtime the copy into its tensor, the session run and the copy out). Not a unit test: it reports what
/// it sees.
/// </summary>
internal static class InferenceBenchmark
{
    /// <summary>Runs the benchmark on (batch, 3, resolution, resolution) random input.</summary>
    public static BenchmarkResult Run(IClassifierEngine engine, int resolution, InferenceBenchmarkOptions options)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Batch <= 0)
        {
            throw new EfficientNetException($"--batch must be positive, got {options.Batch}");
        }
        if (options.Seconds <= 0)
        {
            throw new EfficientNetException($"--seconds must be positive, got {options.Seconds}");
        }
        if (options.Workers < 1 || (options.Workers > 1 && engine is not OnnxRuntimeEngine))
        {
            throw new EfficientNetException($"--workers must be 1, or more on the ONNX Runtime engine (libtorch's threads are set for the whole process), got {options.Workers} on {engine.Kind}");
        }
        if (resolution is < EfficientNetOptions.MinResolution or > EfficientNetOptions.MaxResolution)
        {
            throw new EfficientNetException($"the input resolution must be between {EfficientNetOptions.MinResolution} and {EfficientNetOptions.MaxResolution} pixels, got {resolution}");
        }
        if (options.Variant is { } variant)
        {
            ProcessResources.RequireInferenceMemory(options.Batch, variant, resolution);
        }
        var inputs = Enumerable.Range(0, options.Workers).Select(_ => MakeInput(options.Batch, resolution, engine)).ToArray();
        try
        {
            for (int i = 0; i < options.WarmupIterations; i++)
            {
                Forward(engine, inputs[0]);
            }
            var clock = Stopwatch.StartNew();
            int iterations = 0;
            void Loop(Tensor input)
            {
                int mine = 0;
                while (mine == 0 || clock.Elapsed.TotalSeconds < options.Seconds)
                {
                    Forward(engine, input);
                    mine++;
                }
                Interlocked.Add(ref iterations, mine);
            }
            var others = inputs[1..].Select(input => new Thread(() => Loop(input))).ToArray();
            foreach (var other in others)
            {
                other.Start();
            }
            Loop(inputs[0]);
            foreach (var other in others)
            {
                other.Join();
            }
            double seconds = clock.Elapsed.TotalSeconds;
            return new BenchmarkResult(options.Batch, resolution, iterations, seconds, iterations * options.Batch / seconds, 1000 * seconds * options.Workers / iterations, options.Workers);
        }
        finally
        {
            foreach (var input in inputs)
            {
                input.Dispose();
            }
        }
    }

    // A TorchSharp engine with channels-last weights gets channels-last input, as a pipeline feeding it would.
    private static Tensor MakeInput(int batch, int resolution, IClassifierEngine engine)
    {
        using var scope = NewDisposeScope();
        var device = engine is TorchEngine torchEngine ? torchEngine.Model.parameters().First().device : CPU;
        var x = randn([batch, 3, resolution, resolution], device: device);
        bool channelsLast = engine is TorchEngine { ChannelsLast: true };
        return (channelsLast ? x.ToChannelsLast() : x).MoveToOuterDisposeScope();
    }

    private static void Forward(IClassifierEngine engine, Tensor input)
    {
        using var scope = NewDisposeScope();
        var logits = engine.Logits(input);
        // Reading a value forces completion on asynchronous devices (CUDA); on the CPU it is immediate.
        _ = logits[0, 0].item<float>();
    }
}
