using EfficientNet.Data;
using EfficientNet.Data.Augmentation;
using EfficientNet.Imaging;
using EfficientNet.Layers;

namespace EfficientNet.Tests.Data;

public class DataLoaderTests
{
    private static ImageDataset Small(int count = 100)
    {
        var random = new Random(3);
        byte[] pixels = new byte[count * 3 * 8 * 8];
        random.NextBytes(pixels);
        return new ImageDataset(pixels, Enumerable.Range(0, count).Select(i => i % 5).ToArray(), ["a", "b", "c", "d", "e"], 8, 8, "random");
    }

    private static DataLoader Loader(ImageDataset data, int seed, bool shuffle = true, bool dropLast = true) =>
        new(data, new LoaderOptions(16, shuffle, dropLast, seed), Normalization.Cifar10, new AugmentationOptions().BuildTransforms(), new BatchMixer(0, 0));

    /// <summary>Fails on every call after the first (a corrupt image, a bug in an augmentation).</summary>
    private sealed class FailsAfterFirstBatch : IBatchTransform
    {
        private int calls;

        public TorchSharp.torch.Tensor Apply(TorchSharp.torch.Tensor images, Random random) =>
            Interlocked.Increment(ref calls) == 1 ? images : throw new InvalidDataException("batch 2 cannot be prepared");
    }

    [Fact]
    public void Epoch_ConsumerStopsAfterTheProducerFailed_SurfacesTheFailure()
    {
        var loader = new DataLoader(Small(), new LoaderOptions(16, false, true, 1, Prefetch: 2), Normalization.Cifar10, [new FailsAfterFirstBatch()], mixer: null);
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            foreach (var batch in loader.Epoch(0))
            {
                batch.Dispose();
                // Give the background producer time to reach the failing batch, then stop early.
                Thread.Sleep(500);
                break;
            }
        });
        Assert.Equal("batch 2 cannot be prepared", e.Message);
    }

    [Fact]
    public void Epoch_SameSeed_GivesIdenticalBatches()
    {
        var data = Small();
        var first = Loader(data, 5).Epoch(2).ToList();
        var second = Loader(data, 5).Epoch(2).ToList();
        Assert.Equal(6, first.Count);
        foreach (var (a, b) in first.Zip(second))
        {
            TensorAssert.Identical(a.Images, b.Images);
            TensorAssert.Identical(a.Labels, b.Labels);
        }
        first.ForEach(b => b.Dispose());
        second.ForEach(b => b.Dispose());
    }

    [Fact]
    public void Epoch_DifferentEpochs_ReorderAndReaugment()
    {
        var loader = Loader(Small(), 5);
        using var a = loader.Prepare(0, 0);
        using var b = loader.Prepare(1, 0);
        Assert.False(a.Labels.equal(b.Labels).all().item<bool>() && a.Images.equal(b.Images).all().item<bool>());
    }

    [Fact]
    public void Epoch_BackgroundBatchesEqualSynchronousOnes()
    {
        var loader = Loader(Small(), 9);
        int index = 0;
        foreach (var batch in loader.Epoch(1))
        {
            using (batch)
            using (var expected = loader.Prepare(1, index))
            {
                Assert.Equal(index, batch.Index);
                TensorAssert.Identical(expected.Images, batch.Images);
            }
            index++;
        }
        Assert.Equal(loader.BatchesPerEpoch, index);
    }

    [Fact]
    public void Epoch_WithoutShuffleOrDropLast_CoversEveryImageOnceInOrder()
    {
        var data = Small(40);
        var loader = new DataLoader(data, new LoaderOptions(16, false, false, 1), Normalization.Cifar10);
        var labels = new List<long>();
        foreach (var batch in loader.Epoch(0))
        {
            using (batch)
            {
                Assert.True(batch.Images.IsChannelsLast());
                labels.AddRange(batch.Labels.data<long>().ToArray());
            }
        }
        Assert.Equal(3, loader.BatchesPerEpoch);
        Assert.Equal(data.Labels.Select(l => (long)l), labels);
    }

    [Fact]
    public void Epoch_StartBatch_SkipsTheFirstBatches()
    {
        var loader = Loader(Small(), 2);
        var batches = loader.Epoch(0, startBatch: 4).ToList();
        Assert.Equal(new[] { 4, 5 }, batches.Select(b => b.Index));
        using var expected = loader.Prepare(0, 4);
        TensorAssert.Identical(expected.Images, batches[0].Images);
        batches.ForEach(b => b.Dispose());
    }

    [Fact]
    public async Task Epoch_ConsumerStopsEarly_ProducerStopsWithoutHanging()
    {
        var loader = Loader(Small(400), 1);
        var task = Task.Run(() =>
        {
            foreach (var batch in loader.Epoch(0))
            {
                batch.Dispose();
                break;
            }
        });
        await task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void Constructor_FewerImagesThanABatch_Throws()
    {
        var e = Assert.Throws<EfficientNetException>(() => new DataLoader(Small(10), new LoaderOptions(16, true, true, 1), Normalization.Cifar10));
        Assert.Contains("fewer than one batch of 16", e.Message, StringComparison.Ordinal);
        Assert.Throws<EfficientNetException>(() => new DataLoader(Small(10), new LoaderOptions(0, true, true, 1), Normalization.Cifar10));
    }
}
