using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using EfficientNet.Data.Augmentation;
using EfficientNet.Imaging;
using EfficientNet.Layers;
using EfficientNet.Runtime;
using static TorchSharp.torch;

namespace EfficientNet.Data;

/// <summary>A prepared batch; its tensors belong to whoever receives it, who disposes it.</summary>
/// <param name="Images">Normalised images (B, 3, H, W), channels-last when asked.</param>
/// <param name="Targets">Soft targets (B, K) when mixup/cutmix are on, else null.</param>
/// <param name="Labels">Class indices (B).</param>
/// <param name="Index">Position of the batch in its epoch.</param>
public sealed record Batch(Tensor Images, Tensor? Targets, Tensor Labels, int Index) : IDisposable
{
    /// <summary>Number of images.</summary>
    public int Count => (int)Labels.shape[0];

    /// <inheritdoc/>
    public void Dispose()
    {
        Images.Dispose();
        Targets?.Dispose();
        Labels.Dispose();
    }
}

/// <summary>How batches are cut and prepared.</summary>
/// <param name="BatchSize">Images per batch.</param>
/// <param name="Shuffle">New random order every epoch (training) or dataset order (evaluation).</param>
/// <param name="DropLast">Skip a final partial batch (keeps BatchNorm statistics sane in training).</param>
/// <param name="Seed">Seeds the order and every random transform: same seed, same batches.</param>
/// <param name="Prefetch">Batches prepared ahead on the background thread.</param>
/// <param name="ChannelsLast">Emit NHWC-strided images.</param>
public sealed record LoaderOptions(int BatchSize, bool Shuffle, bool DropLast, int Seed, int Prefetch = 3, bool ChannelsLast = true)
{
    /// <summary>
    /// In data-parallel training, the part of every batch this process takes: rank r of W takes the r-th of W equal
    /// slices of each <see cref="BatchSize"/>-image batch, so together the processes see the batches one process would.
    /// </summary>
    public DataShare Share { get; init; } = DataShare.Whole;
}

/// <summary>
/// Process <paramref name="Rank"/> of <paramref name="Count"/>'s share of a data-parallel job's data, the one place that
/// computes it (as PyTorch's DistributedSampler): an equal slice of every training batch, and every Count-th image of a
/// set that is evaluated once.
/// </summary>
public sealed record DataShare(int Rank, int Count)
{
    /// <summary>Everything: a job of one process.</summary>
    public static DataShare Whole { get; } = new(0, 1);

    /// <summary>Images this process takes of every batch of <paramref name="batchSize"/>.</summary>
    /// <exception cref="EfficientNetException">The batch cannot be shared equally.</exception>
    public int OfBatch(int batchSize) => batchSize % Count == 0
        ? batchSize / Count
        : throw new EfficientNetException($"the batch size ({batchSize}) must be a multiple of the number of processes ({Count}): each process takes an equal share of every batch");

    /// <summary>This process's slice (its first position and length) of a whole batch of <paramref name="count"/> images from <paramref name="start"/>.</summary>
    public (int Start, int Count) OfBatch(int start, int count) => (start + Rank * (count / Count), count / Count);

    /// <summary>This process's images of a set of <paramref name="total"/>: every Count-th from its rank on.</summary>
    public int[] Of(int total) => [.. Enumerable.Range(0, total).Where(i => i % Count == Rank)];

    /// <summary>The most images any process's share of a set of <paramref name="total"/> has.</summary>
    public int Largest(int total) => (total + Count - 1) / Count;
}

/// <summary>
/// Cuts a dataset into batches and prepares them (augment, mix, normalise) on a background thread,
/// <see cref="LoaderOptions.Prefetch"/> batches ahead of the consumer, so the model does not wait.
/// Every random choice is drawn from a generator seeded by (seed, epoch, batch), so results do not
/// depend on thread timing and a resumed run sees the same batches.
/// </summary>
public sealed class DataLoader
{
    private readonly ImageDataset data;
    private readonly LoaderOptions options;
    private readonly IReadOnlyList<IBatchTransform> transforms;
    private readonly BatchMixer? mixer;
    private readonly Normalization normalization;

    /// <summary>Creates a loader; <paramref name="augmentation"/> (for training only) transforms and mixes each batch.</summary>
    public DataLoader(ImageDataset data, LoaderOptions options, Normalization normalization, AugmentationOptions? augmentation = null)
        : this(data, options, normalization, augmentation?.BuildTransforms() ?? [], augmentation is null ? null : new BatchMixer(augmentation.Mixup, augmentation.Cutmix))
    {
    }

    /// <summary>Creates a loader with these transforms and mixer.</summary>
    internal DataLoader(ImageDataset data, LoaderOptions options, Normalization normalization, IReadOnlyList<IBatchTransform> transforms, BatchMixer? mixer)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(normalization);
        if (options.BatchSize <= 0)
        {
            throw new EfficientNetException($"LoaderOptions.BatchSize must be positive, got {options.BatchSize}");
        }
        if (data.Count == 0 || (options.DropLast && data.Count < options.BatchSize))
        {
            throw new EfficientNetException($"{data.Source} has {data.Count} images, fewer than one batch of {options.BatchSize}; use a smaller batch");
        }
        if (options.Share.Count > 1 && !options.DropLast)
        {
            throw new EfficientNetException("LoaderOptions.Share needs LoaderOptions.DropLast: only whole batches can be shared equally");
        }
        options.Share.OfBatch(options.BatchSize);
        this.data = data;
        this.options = options;
        this.normalization = normalization;
        this.transforms = transforms;
        this.mixer = mixer is { Enabled: true } ? mixer : null;
    }

    /// <summary>The dataset batches are cut from.</summary>
    public ImageDataset Data => data;

    /// <summary>Batches in one epoch.</summary>
    public int BatchesPerEpoch => options.DropLast ? data.Count / options.BatchSize : (data.Count + options.BatchSize - 1) / options.BatchSize;

    /// <summary>
    /// The batches of <paramref name="epoch"/> from <paramref name="startBatch"/> on, prepared ahead in
    /// the background. Stopping early (break, exception) stops the producer and frees what it made.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch, int startBatch = 0, CancellationToken cancellation = default)
    {
        int[] order = Enumerable.Range(0, data.Count).ToArray();
        if (options.Shuffle)
        {
            new Random(Seed(options.Seed, epoch, -1)).Shuffle(order);
        }
        if (options.Prefetch == 0)
        {
            for (int b = startBatch; b < BatchesPerEpoch; b++)
            {
                cancellation.ThrowIfCancellationRequested();
                yield return Make(order, epoch, b);
            }
            yield break;
        }
        var channel = Channel.CreateBounded<Batch>(new BoundedChannelOptions(Math.Max(1, options.Prefetch)) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var producer = Task.Run(() => Produce(order, epoch, startBatch, channel.Writer, stop.Token), CancellationToken.None);
        bool surfaced = false;
        try
        {
            var reader = channel.Reader;
            while (reader.WaitToReadAsync(cancellation).AsTask().GetAwaiter().GetResult())
            {
                while (reader.TryRead(out var batch))
                {
                    yield return batch;
                }
            }
            surfaced = true;
            producer.GetAwaiter().GetResult(); // surface a producer failure
        }
        finally
        {
            stop.Cancel();
            var failure = WaitForProducer(producer);
            while (channel.Reader.TryRead(out var left))
            {
                left.Dispose();
            }
            // A consumer that stops early (break, --max-batches) still hears that preparing a batch failed.
            if (failure is not null && !surfaced)
            {
                ExceptionDispatchInfo.Throw(failure);
            }
        }
    }

    // The producer's own failure, or null when it finished or was cancelled.
    private static Exception? WaitForProducer(Task producer)
    {
        try
        {
            producer.Wait(CancellationToken.None);
            return null;
        }
        catch (AggregateException e)
        {
            return e.InnerExceptions.FirstOrDefault(x => x is not OperationCanceledException);
        }
    }

    /// <summary>Prepares batch <paramref name="index"/> of <paramref name="epoch"/> synchronously (tests, one-offs).</summary>
    public Batch Prepare(int epoch, int index)
    {
        int[] order = Enumerable.Range(0, data.Count).ToArray();
        if (options.Shuffle)
        {
            new Random(Seed(options.Seed, epoch, -1)).Shuffle(order);
        }
        return Make(order, epoch, index);
    }

    private void Produce(int[] order, int epoch, int startBatch, ChannelWriter<Batch> writer, CancellationToken token)
    {
        try
        {
            // One libtorch thread here: the cores belong to the training thread's ops.
            IntraOpThreads.LimitCurrentThread(1);
            for (int b = startBatch; b < BatchesPerEpoch; b++)
            {
                token.ThrowIfCancellationRequested();
                var batch = Make(order, epoch, b);
                if (!writer.TryWrite(batch))
                {
                    try
                    {
                        writer.WriteAsync(batch, token).AsTask().GetAwaiter().GetResult();
                    }
                    catch
                    {
                        batch.Dispose();
                        throw;
                    }
                }
            }
            writer.Complete();
        }
        catch (Exception e)
        {
            writer.Complete(e is OperationCanceledException ? null : e);
            if (e is not OperationCanceledException)
            {
                throw;
            }
        }
    }

    private Batch Make(int[] order, int epoch, int index)
    {
        int start = index * options.BatchSize;
        int count = Math.Min(options.BatchSize, data.Count - start);
        // Whole batches only when shared (checked at construction): this process's slice of the batch.
        (start, count) = options.Share.OfBatch(start, count);
        var random = new Random(Seed(options.Seed, epoch, index, options.Share.Rank));
        using var scope = NewDisposeScope();
        var slice = order.AsSpan(start, count);
        var (images, labels) = data.Batch(slice, data.IsStreamed ? SampleSeeds(options.Seed, epoch, slice) : default);
        foreach (var transform in transforms)
        {
            images = transform.Apply(images, random);
        }
        Tensor? targets = null;
        if (mixer is not null)
        {
            (images, targets) = mixer.Apply(images, labels, data.Classes.Count, random);
        }
        images = normalization.Apply(images.contiguous());
        if (options.ChannelsLast)
        {
            images = images.ToChannelsLast();
        }
        var batch = new Batch(images.MoveToOuterDisposeScope(), targets?.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope(), index);
        return batch;
    }

    /// <summary>
    /// A fixed mix of (seed, epoch, batch) into one generator seed (SplitMix64's finaliser), mixed once more with the
    /// process's <paramref name="rank"/> in data-parallel training (rank 0 draws what one process draws). Not
    /// HashCode.Combine: that one is randomised per process, which would break reproducibility.
    /// </summary>
    public static int Seed(int seed, int epoch, int batch, int rank = 0)
    {
        ulong z = Mix(((ulong)(uint)seed << 32) ^ ((ulong)(uint)epoch << 16) ^ (uint)batch);
        return (int)(rank == 0 ? z : Mix(z ^ (uint)rank));
    }

    /// <summary>
    /// Each image's own generator seed in <paramref name="epoch"/>, from (seed, epoch, image index): the same draws
    /// whatever the batch, the number of processes or the threads that decode it, so a resumed run sees the same crops.
    /// </summary>
    internal static int[] SampleSeeds(int seed, int epoch, ReadOnlySpan<int> images)
    {
        ulong epochSeed = (ulong)(uint)Seed(seed, epoch, -2) << 32;
        int[] seeds = new int[images.Length];
        for (int i = 0; i < images.Length; i++)
        {
            seeds[i] = (int)Mix(epochSeed | (uint)images[i]);
        }
        return seeds;
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
