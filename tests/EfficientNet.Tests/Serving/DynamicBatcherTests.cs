using EfficientNet.Inference;
using EfficientNet.Inference.Engines;
using EfficientNet.Serving;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Serving;

/// <summary>
/// The batcher's workers on engines whose logits are known: each image's sum of pixels, its batch's size and the
/// engine's number. With two workers two batches run at once on the shared engine, a batch alone runs on the engine
/// with every thread, and every image gets its own answer.
/// </summary>
public sealed class DynamicBatcherTests
{
    private const int Side = 8;

    /// <summary>
    /// Logits (sum of the image's pixels, images in its batch, <c>number</c>); with <c>meet</c>, each call waits until
    /// that many calls are inside at once. Engines given one <see cref="Occupancy"/> record calls that overlap a call
    /// of the engine that must run alone.
    /// </summary>
    private sealed class SummingEngine(int number = 0, int meet = 1, TimeSpan? patience = null, Occupancy? occupancy = null, bool runsAlone = false) : IClassifierEngine
    {
        private readonly Barrier? together = meet > 1 ? new(meet) : null;

        public EngineKind Kind => EngineKind.OnnxRuntime;

        /// <summary>Set by each call on entry.</summary>
        public ManualResetEventSlim Entered { get; } = new();

        /// <summary>Each call waits for it to be set.</summary>
        public ManualResetEventSlim Go { get; } = new(initialState: true);

        public Tensor Logits(Tensor images)
        {
            occupancy?.Enter(runsAlone);
            Entered.Set();
            Go.Wait();
            try
            {
                if (together is not null && !together.SignalAndWait(patience ?? TimeSpan.FromSeconds(60)))
                {
                    throw new TimeoutException($"no other batch ran beside this one within {patience}");
                }
                var sums = images.sum([1, 2, 3]);
                return stack([sums, full_like(sums, images.shape[0]), full_like(sums, number)], 1);
            }
            finally
            {
                occupancy?.Leave();
            }
        }

        public void Dispose()
        {
            together?.Dispose();
            Entered.Dispose();
            Go.Dispose();
        }
    }

    /// <summary>Calls inside the engines at once; <see cref="Overlapped"/> once a call of the engine that must run alone had company.</summary>
    private sealed class Occupancy
    {
        private readonly Lock gate = new();
        private int inside;
        private bool aloneInside;

        public bool Overlapped { get; private set; }

        public void Enter(bool runsAlone)
        {
            lock (gate)
            {
                Overlapped |= aloneInside || (runsAlone && inside > 0);
                aloneInside |= runsAlone;
                inside++;
            }
            Thread.Sleep(1);
        }

        public void Leave()
        {
            lock (gate)
            {
                inside--;
                aloneInside &= inside > 0;
            }
        }
    }

    private static ServingOptions Options(int workers, int maxBatch) =>
        new() { Model = "test", Workers = workers, MaxBatch = maxBatch, MaxDelay = TimeSpan.Zero };

    private static DynamicBatcher Batcher(IClassifierEngine engine, IClassifierEngine? shared, ServingOptions options) =>
        new(engine, shared, Side, options, new ServingMetrics("test", "fake", 2, options.Workers));

    private static float[] Image(DynamicBatcher batcher, float value)
    {
        float[] image = batcher.RentImage();
        Array.Fill(image, value);
        return image;
    }

    [Fact]
    public async Task TwoWorkers_RunTwoBatchesAtOnce_OnTheSharedEngine_AndABatchAlone_OnEveryThread()
    {
        using var everyThread = new SummingEngine(number: 1);
        using var shared = new SummingEngine(number: 2, meet: 2);
        using var batcher = Batcher(everyThread, shared, Options(workers: 2, maxBatch: 1));
        // While a request is on its way, no batch runs alone.
        var arrival = batcher.Arrive();
        var first = batcher.Logits([Image(batcher, 1)], null, CancellationToken.None);
        var second = batcher.Logits([Image(batcher, 2)], null, CancellationToken.None);

        var logits = await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal([3 * Side * Side, 1, 2], logits[0][0]);
        Assert.Equal([2 * 3 * Side * Side, 1, 2], logits[1][0]);

        var alone = await batcher.Logits([Image(batcher, 3)], arrival, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal([3 * 3 * Side * Side, 1, 1], alone[0]);
    }

    [Fact]
    public async Task ABatchOnEveryThread_HasNoOtherBesideIt()
    {
        var occupancy = new Occupancy();
        using var everyThread = new SummingEngine(number: 1, occupancy: occupancy, runsAlone: true);
        using var shared = new SummingEngine(number: 2, occupancy: occupancy);
        using var batcher = Batcher(everyThread, shared, Options(workers: 2, maxBatch: 1));
        everyThread.Go.Reset();
        var first = batcher.Logits([Image(batcher, 1)], null, CancellationToken.None);
        Assert.True(everyThread.Entered.Wait(TimeSpan.FromSeconds(60)), "the lone batch did not start");

        // Another batch comes while the lone one runs: it waits for it (given half a second to run beside it instead).
        var second = batcher.Logits([Image(batcher, 2)], null, CancellationToken.None);
        await Task.Delay(500);
        everyThread.Go.Set();
        var logits = await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1, logits[0][0][2]);
        Assert.False(occupancy.Overlapped, "a batch ran beside the batch on every thread");
    }

    [Fact]
    public async Task OneWorker_RunsOneBatchAtATime()
    {
        // The engine above, shown to notice: with one worker no second batch comes while the first waits.
        using var engine = new SummingEngine(meet: 2, patience: TimeSpan.FromSeconds(2));
        using var batcher = Batcher(engine, null, Options(workers: 1, maxBatch: 1));
        var first = batcher.Logits([Image(batcher, 1)], null, CancellationToken.None);
        var second = batcher.Logits([Image(batcher, 2)], null, CancellationToken.None);

        await Assert.ThrowsAsync<TimeoutException>(() => first.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task ManyRequests_OnTwoWorkers_EachGetItsOwnImagesLogits()
    {
        var occupancy = new Occupancy();
        using var everyThread = new SummingEngine(number: 1, occupancy: occupancy, runsAlone: true);
        using var shared = new SummingEngine(number: 2, occupancy: occupancy);
        using var batcher = Batcher(everyThread, shared, Options(workers: 2, maxBatch: 4));
        var requests = Enumerable.Range(0, 64).Select(i => Task.Run(() => batcher.Logits([Image(batcher, i), Image(batcher, -i)], null, CancellationToken.None))).ToArray();

        var answers = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(occupancy.Overlapped, "a batch on every thread ran beside another");
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
        using var batcher = Batcher(engine, null, new ServingOptions { Model = "test", MaxDelay = TimeSpan.FromMinutes(1) });
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
