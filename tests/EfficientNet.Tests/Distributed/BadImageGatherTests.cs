using EfficientNet.Data;
using EfficientNet.Training.Distributed;
using EfficientNet.Training.Reporting;

namespace EfficientNet.Tests.Distributed;

/// <summary>The unreadable images of every process reach rank 0's list, through the all-reduce alone.</summary>
public class BadImageGatherTests
{
    /// <summary>Rank <paramref name="rank"/> of processes played by threads: an all-reduce adds what every thread gave.</summary>
    private sealed class ThreadProcess(int rank, ThreadProcess.Shared world) : Communicator
    {
        public sealed class Shared(int size)
        {
            public Barrier Barrier { get; } = new(size);

            public double[][] Given { get; } = new double[size][];
        }

        public override int Rank => rank;

        public override int Size => world.Given.Length;

        public override string Description => $"{Size} threads";

        public override void AllReduceSum(Span<double> values)
        {
            world.Given[rank] = values.ToArray();
            world.Barrier.SignalAndWait();
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = world.Given.Sum(g => g[i]);
            }
            world.Barrier.SignalAndWait();
        }

        public override void AllReduceSum(Span<float> values)
        {
            double[] wide = [.. values.ToArray().Select(v => (double)v)];
            AllReduceSum(wide);
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = (float)wide[i];
            }
        }

        public override void Broadcast(Span<byte> data) => throw new NotSupportedException();

        public override void Barrier() => world.Barrier.SignalAndWait();

        public override void Abort(int code) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Gather_GivesEveryProcessEveryonesImagesInRankOrder()
    {
        BadImage[][] met =
        [
            [new("training", "/data/a,b.jpg", "'/data/a,b.jpg' is truncated: \"quoted\"\nline")],
            [],
            [new("validation", "/data/ü.png", "not an image"), new("training", "/data/c.jpg", "gone")],
        ];
        var shared = new ThreadProcess.Shared(3);

        var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(r => Task.Run(() => BadImageLog.Gather(met[r], new ThreadProcess(r, shared)))));

        foreach (var gathered in results)
        {
            Assert.Equal(met.SelectMany(m => m), gathered);
        }
    }
}
