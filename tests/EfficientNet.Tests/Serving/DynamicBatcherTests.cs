using EfficientNet.Inference;
using EfficientNet.Inference.Engines;
using EfficientNet.Serving;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Serving;

/// <summary>
/// The batcher's workers on an engine whose logits are known: each image's sum of pixels and its batch's size. With two
/// workers two batches run at once, and every image still gets its own answer.
/// </summary>
public sealed class DynamicBatcherTests
{
    private const int Side = 8;

    /// <summary>Logits (sum of the image's pixels, images in its batch); with <c>meet</c>, each call waits until that many calls are inside at once.</summary>
    private sealed class SummingEngine(int meet = 1, TimeSpan? patience = null) : IClassifierEngine
    {
        private readonly Barrier together = new(meet);

        public EngineKind Kind => EngineKind.OnnxRuntime;

        public Tensor Logits(Tensor images)
        {
            if (!together.SignalAndWait(patience ?? TimeSpan.FromSeconds(60)))
            {
                throw new TimeoutException($"no other batch ran beside this one within {patience}");
            }
            var sums = images.sum([1, 2, 3]);
            return stack([sums, full_like(sums, images.shape[0])], 1);
        }

        public void Dispose() => together.Dispose();
    }

    private static ServingOptions Options(int workers, int maxBatch) =>
        new() { Model = "test", Workers = workers, MaxBatch = maxBatch, MaxDelay = TimeSpan.Zero };

    private static DynamicBatcher Batcher(IClassifierEngine engine, ServingOptions options) =>
        new(engine, Side, options, new ServingMetrics("test", "fake", 2, options.Workers));

    private static float[] Image(DynamicBatcher batcher, float value)
    {
        float[] image = batcher.RentImage();
        Array.Fill(image, value);
        return image;
    }

    [Fact]
    public async Task TwoWorkers_RunTwoBatchesAtOnce()
    {
        using var engine = new SummingEngine(meet: 2);
        using var batcher = Batcher(engine, Options(workers: 2, maxBatch: 1));
        var first = batcher.Logits([Image(batcher, 1)], null, CancellationToken.None);
        var second = batcher.Logits([Image(batcher, 2)], null, CancellationToken.None);

        var logits = await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal([3 * Side * Side, 1], logits[0][0]);
        Assert.Equal([2 * 3 * Side * Side, 1], logits[1][0]);
    }

    [Fact]
    public async Task OneWorker_RunsOneBatchAtATime()
    {
        // The engine above, shown to notice: with one worker no second batch comes while the first waits.
        using var engine = new SummingEngine(meet: 2, patience: TimeSpan.FromSeconds(2));
        using var batcher = Batcher(engine, Options(workers: 1, maxBatch: 1));
        var first = batcher.Logits([Image(batcher, 1)], null, CancellationToken.None);
        var second = batcher.Logits([Image(batcher, 2)], null, CancellationToken.None);

        await Assert.ThrowsAsync<TimeoutException>(() => first.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task ManyRequests_OnTwoWorkers_EachGetItsOwnImagesLogits()
    {
        using var engine = new SummingEngine();
        using var batcher = Batcher(engine, Options(workers: 2, maxBatch: 4));
        var requests = Enumerable.Range(0, 64).Select(i => Task.Run(() => batcher.Logits([Image(batcher, i), Image(batcher, -i)], null, CancellationToken.None))).ToArray();

        var answers = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(60));
        for (int i = 0; i < answers.Length; i++)
        {
            Assert.Equal(i * 3 * Side * Side, answers[i][0][0]);
            Assert.Equal(-i * 3 * Side * Side, answers[i][1][0]);
            Assert.All(answers[i], logits => Assert.InRange(logits[1], 1, 4));
        }
    }

    [Fact]
    public async Task ARequestsArrival_EndsAsItsImagesQueue_SoItsBatchDoesNotWaitForIt()
    {
        using var engine = new SummingEngine();
        using var batcher = new DynamicBatcher(engine, Side, new ServingOptions { Model = "test", MaxDelay = TimeSpan.FromMinutes(1) }, new ServingMetrics("test", "fake", 2, 1));
        var arrival = batcher.Arrive();

        var logits = await batcher.Logits([Image(batcher, 1)], arrival, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(3 * Side * Side, logits[0][0]);
    }

    [Theory]
    [InlineData(2, 1, 2)]
    [InlineData(0, 1, 0)]
    [InlineData(2, 2, 1)]
    [InlineData(3, 2, 1)]
    [InlineData(8, 2, 4)]
    [InlineData(1, 4, 1)]
    public void WorkerThreads_ShareTheThreadsEvenly_AtLeastOneEach(int threads, int workers, int expected) =>
        Assert.Equal(expected, new ServingOptions { Model = "m", Threads = threads, Workers = workers }.WorkerThreads);

    [Fact]
    public void WorkerThreads_OfTheDefaultThreads_AreTheLogicalCoresShared() =>
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), new ServingOptions { Model = "m", Workers = 2 }.WorkerThreads);

    [Fact]
    public void Validate_RefusesNoWorkers()
    {
        var error = Assert.Throws<EfficientNetException>(() => new ServingOptions { Model = "m", Workers = 0 }.Validate());
        Assert.Contains("ServingOptions.Workers must be positive", error.Message, StringComparison.Ordinal);
    }
}
