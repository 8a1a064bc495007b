using EfficientNet.Inference;
using Microsoft.Extensions.Hosting;

namespace EfficientNet.Serving;

/// <summary>
/// The served model: opened when the host starts (a model that cannot be opened stops the start with its error), warmed
/// up with one batch, then ready; its batcher and classifier are disposed after the server has drained its requests.
/// </summary>
internal sealed class ModelServer(ServingOptions options) : IHostedService, IDisposable
{
    private Classifier? classifier;
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
        classifier = Classifier.Open(options.Model, new ClassifierOptions { Engine = options.Engine, Threads = options.WorkerThreads, Device = Runtime.ProcessResources.ParseDevice(options.Device) });
        if (options.Workers > 1 && classifier.Engine.Kind != EngineKind.OnnxRuntime)
        {
            // libtorch's intra-op threads are set for the whole process, not per worker.
            throw new EfficientNetException($"ServingOptions.Workers above 1 needs the ONNX Runtime engine; '{options.Model}' opened on {classifier.Engine.Kind}");
        }
        Metrics = new ServingMetrics(options.ServedName, classifier.Engine.Kind.ToString().ToLowerInvariant(), options.Threads, options.Workers);
        batcher = new DynamicBatcher(classifier.Engine, classifier.Info.Resolution, options, Metrics);
        int side = classifier.Info.Resolution;
        batcher.Logits([new float[3 * side * side]], null, CancellationToken.None).GetAwaiter().GetResult();
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
        classifier?.Dispose();
    }
}
