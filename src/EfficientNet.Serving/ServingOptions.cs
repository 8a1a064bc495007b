using EfficientNet.Inference;

namespace EfficientNet.Serving;

/// <summary>What a served model is and how requests to it are batched and bounded.</summary>
public sealed record ServingOptions
{
    /// <summary>The model: a checkpoint or torchvision weights file, or an .onnx export (as <see cref="Classifier.Open"/> reads).</summary>
    public required string Model { get; init; }

    /// <summary>The name clients address it by; null: the file name without its extension.</summary>
    public string? Name { get; init; }

    /// <summary>The engine; null: the device's default (<see cref="Classifier.DefaultEngine"/>).</summary>
    public EngineKind? Engine { get; init; }

    /// <summary>"cpu" or "cuda" (the torch engine).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// Intra-op threads of the engine, shared evenly among the <see cref="Workers"/> (0: the engine's default for one
    /// worker; for several, the logical cores).
    /// </summary>
    public int Threads { get; init; }

    /// <summary>
    /// Batches run at once, each on its own thread with <see cref="Threads"/> / <see cref="Workers"/> intra-op threads
    /// (at least one); a batch that would run alone (none other running, no image waiting or on its way) gets every
    /// thread instead, so a lone request is answered as fast as with one worker. As many workers as threads gives more
    /// throughput under load on few cores (docs/serving.md#speed). Above one opens the model twice (every thread, and
    /// the workers' share) and needs the ONNX Runtime engine.
    /// </summary>
    public int Workers { get; init; } = 1;

    /// <summary>Each worker's intra-op threads (0: the engine's default).</summary>
    public int WorkerThreads => Workers == 1 ? Threads : Math.Max(1, (Threads > 0 ? Threads : Environment.ProcessorCount) / Workers);

    /// <summary>Most images run in one forward pass.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Longest wait, from the first queued image, for more images to join its batch.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Most images waiting for a forward pass; more are answered 503 with Retry-After instead of queued.</summary>
    public int MaxQueue { get; init; } = 256;

    /// <summary>Largest request body in bytes; a larger one is answered 413.</summary>
    public long MaxBodyBytes { get; init; } = 16 << 20;

    /// <summary>Longest a request may wait for its answer once queued; then it is answered 503.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether <c>GET /</c> answers a page to try the model (pick or drop a photo, see its top 5); turn it off where the
    /// app has its own root page.
    /// </summary>
    public bool Page { get; init; } = true;

    /// <summary>The name the model is served under.</summary>
    public string ServedName => Name ?? Path.GetFileNameWithoutExtension(Model);

    /// <summary>Throws an actionable error for an option out of range.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Model))
        {
            throw new EfficientNetException("ServingOptions.Model is required: the weights or .onnx file to serve");
        }
        if (MaxBatch < 1 || MaxQueue < 1 || MaxBodyBytes < 1 || Workers < 1 || Threads < 0)
        {
            throw new EfficientNetException("ServingOptions.MaxBatch, ServingOptions.MaxQueue, ServingOptions.MaxBodyBytes and ServingOptions.Workers must be positive and ServingOptions.Threads 0 or positive");
        }
        if (MaxDelay < TimeSpan.Zero || RequestTimeout <= TimeSpan.Zero)
        {
            throw new EfficientNetException("ServingOptions.MaxDelay must be 0 or positive and ServingOptions.RequestTimeout positive");
        }
        if (string.IsNullOrWhiteSpace(ServedName) || ServedName.Contains('/', StringComparison.Ordinal))
        {
            throw new EfficientNetException($"ServingOptions.Name must be a non-empty name without '/', got '{ServedName}'");
        }
    }
}
