using EfficientNet.Data;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Data;

/// <summary>Image datasets are stored in chunks so that they may pass 2 GiB.</summary>
public class ChunkedDatasetTests
{
    private static readonly string FlowersTest = Path.Combine(TestPaths.SharedData, "flowers12", "test");

    [Fact]
    public void Load_InSmallChunks_GivesTheSameBatchesAndSubsetsAsOneArray()
    {
        // 7 images per chunk (the last of 35 chunks holds 2): every cut through chunk boundaries must read the same pixels.
        var whole = ImageFolder.Load(FlowersTest, 32);
        var chunked = ImageFolder.Load(FlowersTest, 32, null, chunkBytes: 7 * 3 * 32 * 32 + 5);
        int[] indices = [0, 6, 7, 8, 13, 14, 239, 238, 100, 6];

        var (a, la) = whole.Batch(indices);
        var (b, lb) = chunked.Batch(indices);
        using (a) using (la) using (b) using (lb)
        {
            Assert.True(a.eq(b).all().item<bool>());
            Assert.True(la.eq(lb).all().item<bool>());
        }
        var subset = chunked.Subset(indices);
        var (c, lc) = subset.Batch([.. Enumerable.Range(0, indices.Length)]);
        var (d, ld) = whole.Batch(indices);
        using (c) using (lc) using (d) using (ld)
        {
            Assert.True(c.eq(d).all().item<bool>());
        }
        Assert.Equal(whole.Labels, chunked.Labels);
    }

    [Fact]
    public void AllocateChunks_MoreThanTwoGibibytes_HoldsEveryImageInWholeChunks()
    {
        // 720 images at 1024x1024 (the flowers12 case): 2.26 GB, more than one array can hold.
        const int imageBytes = 3 * 1024 * 1024;
        var (chunks, perChunk) = ImageDataset.AllocateChunks(720, imageBytes);

        Assert.Equal(341, perChunk);
        Assert.Equal(3, chunks.Length);
        Assert.Equal(720L * imageBytes, chunks.Sum(c => c.LongLength));
        Assert.Equal(imageBytes, ImageDataset.ImageIn(chunks, perChunk, imageBytes, 719).Length);
    }
}
