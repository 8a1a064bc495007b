using EfficientNet.Training.Distributed;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Distributed;

/// <summary>Gradient averaging and the same-model check, against an in-process stand-in for the other process.</summary>
public class ModelCopiesTests
{
    /// <summary>A process of 2 whose partner's gradients are all 1 (what MPI_Allreduce adds to this process's values).</summary>
    private sealed class PartnerOfOnes : Communicator
    {
        public int Reductions { get; private set; }

        public override int Rank => 1;

        public override int Size => 2;

        public override string Description => "2 processes (in-process stand-in)";

        public override void AllReduceSum(Span<float> values)
        {
            Reductions++;
            foreach (ref float v in values)
            {
                v += 1;
            }
        }

        public override void AllReduceSum(Span<double> values)
        {
        }

        // Rank 0 of this stand-in sends what the partner would: a model state other than this one's.
        public override void Broadcast(Span<byte> data) => data.Clear();

        public override void Barrier()
        {
        }

        public override void Abort(int code) => throw new NotSupportedException();
    }

    [Fact]
    public void Average_IsTheMeanOverTheProcesses_InBucketsOfTheGivenSize_AndAMissingGradientCountsAsZeros()
    {
        manual_seed(2);
        using var big = new Parameter(randn(300, 200));       // 240,000 bytes
        using var small = new Parameter(randn(10, 3, 3, 3));  // 1,080 bytes
        using var frozen = new Parameter(randn(5), requires_grad: false);
        using var unused = new Parameter(randn(7));
        using var g1 = randn(300, 200);
        using var g2 = EfficientNet.Layers.TensorLayout.ToChannelsLast(randn(10, 3, 3, 3)); // a strided gradient
        using var expectedBig = (g1 + 1) / 2;
        using var expectedSmall = (g2 + 1) / 2;
        big.grad = g1; // shared, so averaged in place
        small.grad = g2;
        var world = new PartnerOfOnes();
        using var averager = new GradientAverager([big, small, frozen, unused], world, bucketBytes: 100_000);

        averager.Average();

        Assert.Equal(2, averager.Buckets); // the large parameter alone, then the two small ones
        Assert.Equal(2, world.Reductions);
        TensorAssert.Identical(expectedBig, big.grad!);
        TensorAssert.Identical(expectedSmall, small.grad!);
        TensorAssert.Identical(full(7, 0.5f), unused.grad!);
        Assert.Null(frozen.grad);
    }

    [Fact]
    public void CheckSame_RefusesACopyOfTheModelThatDiffersFromRankZeros()
    {
        using var model = EfficientNet.Models.EfficientNetModel.Create("b0", new EfficientNet.Models.EfficientNetOptions { NumClasses = 10, CifarStem = true });
        var e = Assert.Throws<EfficientNetException>(() => ModelSync.CheckSame(model, new PartnerOfOnes(), "after epoch 3"));
        Assert.StartsWith("after epoch 3: the processes' copies of the model differ", e.Message, StringComparison.Ordinal);
        ModelSync.CheckSame(model, SingleProcess.Instance, "one process has nothing to compare");
        Assert.Equal(ModelSync.Fingerprint(model), ModelSync.Fingerprint(model));
    }
}
