using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using EfficientNet.Inference.Engines;
using static TorchSharp.torch;

namespace EfficientNet.Serving;

/// <summary>No room in the queue: the request is answered 503 with Retry-After.</summary>
internal sealed class QueueFullException(string message) : Exception(message);

/// <summary>
/// Coalesces the images of concurrent requests into batches on <see cref="ServingOptions.Workers"/> inference threads,
/// each running one batch at a time: a batch runs when it holds <see cref="ServingOptions.MaxBatch"/> images, when its
/// first image has waited <see cref="ServingOptions.MaxDelay"/>, or when no other request is on its way
/// (<see cref="Arrive"/>), whichever comes first, so a request alone does not wait for company. With several workers,
/// a batch that would run alone (no other running, no image waiting or on its way) runs on every thread, and the
/// others wait for it; the rest run on the workers' shares. At most <see cref="ServingOptions.MaxQueue"/> images wait;
/// more are refused at once.
/// </summary>
internal sealed class DynamicBatcher : IDisposable
{
    private sealed record Job(float[] Pixels, TaskCompletionSource<float[]> Logits, CancellationToken Abandoned);

    private readonly IClassifierEngine engine;
    private readonly IClassifierEngine? shared;
    private readonly object gate = new();
    private int running;
    private bool alone;
    private readonly ServingOptions options;
    private readonly ServingMetrics metrics;
    private readonly int side;
    private readonly Channel<Job> queue = Channel.CreateUnbounded<Job>();
    private readonly ConcurrentBag<float[]> spare = [];
    private int spareCount;
    private readonly Thread[] workers;
    private int waiting;
    private int arriving;

    /// <summary>Starts the workers.</summary>
    /// <param name="engine">Runs a batch on every thread: each batch of one worker; with several, a batch that runs alone.</param>
    /// <param name="shared">With several workers, the engine they run at once, each with its share of the threads.</param>
    /// <param name="side">The images' height and width.</param>
    /// <param name="options">Batching and bounds.</param>
    /// <param name="metrics">Told each batch's size and the queue's depth.</param>
    public DynamicBatcher(IClassifierEngine engine, IClassifierEngine? shared, int side, ServingOptions options, ServingMetrics metrics)
    {
        (this.engine, this.shared, this.side, this.options, this.metrics) = (engine, shared, side, options, metrics);
        if (options.Workers > 1 && shared is null)
        {
            throw new ArgumentException("several workers need the engine they share", nameof(shared));
        }
        workers = [.. Enumerable.Range(1, options.Workers).Select(i => new Thread(Work) { IsBackground = true, Name = $"efficientnet-serving-batcher-{i}" })];
        foreach (var worker in workers)
        {
            worker.Start();
        }
    }

    /// <summary>
    /// Marks a request whose images are on their way (being read and decoded) until disposed or passed to
    /// <see cref="Logits"/>: while any is, a batch waits for them, up to <see cref="ServingOptions.MaxDelay"/>.
    /// </summary>
    public Arrival Arrive()
    {
        Interlocked.Increment(ref arriving);
        return new Arrival(this);
    }

    /// <summary>A request on its way (<see cref="Arrive"/>).</summary>
    public sealed class Arrival(DynamicBatcher batcher) : IDisposable
    {
        private int done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref done, 1) == 0)
            {
                Interlocked.Decrement(ref batcher.arriving);
            }
        }
    }

    /// <summary>
    /// A buffer for one image (3 planes of side x side floats) to fill and pass to <see cref="Logits"/>, which takes it
    /// back; one that is not passed goes back through <see cref="Release"/>. Buffers are reused, so that each request
    /// does not allocate (and the collector reclaim) 0.6 MB of large objects per image of 224x224.
    /// </summary>
    public float[] RentImage()
    {
        if (spare.TryTake(out float[]? buffer))
        {
            Interlocked.Decrement(ref spareCount);
            return buffer;
        }
        return new float[3 * side * side];
    }

    /// <summary>
    /// Takes back buffers from <see cref="RentImage"/>; as many as the batches running and one more filling hold are
    /// kept, so a burst does not leave the memory of its peak held.
    /// </summary>
    public void Release(IEnumerable<float[]> images)
    {
        foreach (float[] image in images)
        {
            if (Interlocked.Increment(ref spareCount) <= (options.Workers + 1) * options.MaxBatch)
            {
                spare.Add(image);
            }
            else
            {
                Interlocked.Decrement(ref spareCount);
            }
        }
    }

    /// <summary>
    /// The logits of each image (buffers from <see cref="RentImage"/>, which it takes back), in order, from the batches
    /// they joined. The request's <paramref name="arrival"/> ends as its images are queued: not before, or a batch
    /// gathering could leave without them, and not after, or a batch that has them could wait for them still.
    /// </summary>
    /// <exception cref="QueueFullException">The images would not fit in the queue.</exception>
    public Task<float[][]> Logits(IReadOnlyList<float[]> images, Arrival? arrival, CancellationToken abandoned)
    {
        if (Interlocked.Add(ref waiting, images.Count) > options.MaxQueue)
        {
            Interlocked.Add(ref waiting, -images.Count);
            Release(images);
            throw new QueueFullException($"the queue holds {options.MaxQueue} images already; retry shortly");
        }
        metrics.QueueDepth = Volatile.Read(ref waiting);
        var jobs = images.Select(pixels => new Job(pixels, new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously), abandoned)).ToArray();
        var answers = Task.WhenAll(jobs.Select(j => j.Logits.Task));
        arrival?.Dispose();
        foreach (var job in jobs)
        {
            queue.Writer.TryWrite(job);
        }
        return answers;
    }

    // One worker: gathers a batch, runs it, answers it. Its input is MaxBatch images made once and filled in place: a
    // new tensor per batch, made from a managed array, slowed every forward pass (docs/serving.md#speed).
    private void Work()
    {
        using var input = zeros(options.MaxBatch, 3, side, side);
        var batch = new List<Job>(options.MaxBatch);
        while (queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            var deadline = Stopwatch.StartNew();
            while (batch.Count < options.MaxBatch)
            {
                if (queue.Reader.TryRead(out var job))
                {
                    Interlocked.Decrement(ref waiting);
                    if (!job.Abandoned.IsCancellationRequested)
                    {
                        batch.Add(job);
                    }
                    else
                    {
                        Release([job.Pixels]);
                    }
                    continue;
                }
                var left = options.MaxDelay - deadline.Elapsed;
                if (batch.Count == 0 || left <= TimeSpan.Zero || Volatile.Read(ref arriving) == 0 || !WaitForMore(left))
                {
                    break;
                }
            }
            metrics.QueueDepth = Volatile.Read(ref waiting);
            if (batch.Count > 0)
            {
                Run(batch, input);
                batch.Clear();
            }
        }
    }

    // The batch's logits: on every thread when no other batch runs and no image waits or is on its way, else on the
    // worker's share, once a batch running on every thread is done.
    private Tensor Forward(Tensor images)
    {
        if (shared is null)
        {
            return engine.Logits(images);
        }
        bool mine;
        lock (gate)
        {
            while (alone)
            {
                Monitor.Wait(gate);
            }
            alone = mine = running == 0 && queue.Reader.Count == 0 && Volatile.Read(ref arriving) == 0;
            running++;
        }
        try
        {
            return (mine ? engine : shared).Logits(images);
        }
        finally
        {
            lock (gate)
            {
                running--;
                if (mine)
                {
                    alone = false;
                }
                Monitor.PulseAll(gate);
            }
        }
    }

    private bool WaitForMore(TimeSpan left)
    {
        using var timeout = new CancellationTokenSource(left);
        try
        {
            return queue.Reader.WaitToReadAsync(timeout.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Run(List<Job> batch, Tensor input)
    {
        try
        {
            using var scope = NewDisposeScope();
            for (int i = 0; i < batch.Count; i++)
            {
                batch[i].Pixels.CopyTo(MemoryMarshal.Cast<byte, float>(input[i].bytes));
            }
            Release(batch.Select(job => job.Pixels));
            var logits = Forward(input.narrow(0, 0, batch.Count));
            int classes = (int)logits.shape[1];
            float[] all = logits.data<float>().ToArray();
            metrics.Batch(batch.Count);
            for (int i = 0; i < batch.Count; i++)
            {
                batch[i].Logits.TrySetResult(all[(i * classes)..((i + 1) * classes)]);
            }
        }
        catch (Exception e)
        {
            foreach (var job in batch)
            {
                job.Logits.TrySetException(e);
            }
        }
    }

    public void Dispose()
    {
        queue.Writer.TryComplete();
        foreach (var worker in workers)
        {
            worker.Join();
        }
    }
}
