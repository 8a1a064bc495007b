using EfficientNet.Inference;
using Microsoft.Extensions.Hosting;

namespace EfficientNet.Serving;

/// <summary>
/// The served model: opened when the host starts (a model that cannot be opened stops the start with its error), warmed
/// up with one batch, then ready; its batcher and classifiers are disposed after the server has drained its requests.
/// </summary>
internal sealed class ModelServer(ServingOptions options) : IHostedService, IDisposable
{
    private Classifier? classifier;
    private Classifier? shared;
    private DynamicBatcher? batcher;

    public ServingOptions Options => options;

    /// <summary>Whether the model is loaded and its warm-up batch ran.</summary>
    public bool Ready { get; private set; }

    public ServingMetrics Metrics { get; private set; } = new(options.ServedName, "loading", options.Threads, options.Workers);

    public ClassifierInfo Info => classifier?.Info ?? throw new InvalidOperationException("the model is not loaded yet");

    public int Classes => Info.NumClasses;

    public DynamicBatcher Batcher => batcher ?? throw new InvalidOperationException("the model is not loaded yet");

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var opening = new ClassifierOptions { Engine = options.Engine, Threads = options.Threads, Device = Runtime.ProcessResources.ParseDevice(options.Device) };
        classifier = Classifier.Open(options.Model, opening);
        if (options.Workers > 1)
        {
            if (classifier.Engine.Kind != EngineKind.OnnxRuntime)
            {
                // libtorch's intra-op threads are set for the whole process, not per worker.
                throw new EfficientNetException($"ServingOptions.Workers above 1 needs the ONNX Runtime engine; '{options.Model}' opened on {classifier.Engine.Kind}");
            }
            // The model again, with each worker's share of the threads, for the batches that run at once.
            shared = Classifier.Open(options.Model, opening with { Threads = options.WorkerThreads });
        }
        Metrics = new ServingMetrics(options.ServedName, classifier.Engine.Kind.ToString().ToLowerInvariant(), options.Threads, options.Workers);
        batcher = new DynamicBatcher(classifier.Engine, shared?.Engine, classifier.Info.Resolution, options, Metrics);
        int side = classifier.Info.Resolution;
        batcher.Logits([new float[3 * side * side]], null, CancellationToken.None).GetAwaiter().GetResult();
        if (shared is not null)
        {
            using var image = TorchSharp.torch.zeros(1, 3, side, side);
            shared.Engine.Logits(image).Dispose();
        }
        Ready = true;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Ready = false;
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        batcher?.Dispose();
        shared?.Dispose();
        classifier?.Dispose();
    }
}
