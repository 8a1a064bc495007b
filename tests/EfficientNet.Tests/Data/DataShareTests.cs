using EfficientNet.Data;

namespace EfficientNet.Tests.Data;

/// <summary>A process's share of the data: together the processes see every image once, in equal parts of each batch.</summary>
public class DataShareTests
{
    [Theory]
    [InlineData(12, 4, 16)]
    [InlineData(0, 2, 64)]
    [InlineData(128, 1, 128)]
    public void BatchSlices_OfAllProcesses_TileTheBatch(int start, int processes, int batch)
    {
        var covered = new List<int>();
        for (int rank = 0; rank < processes; rank++)
        {
            var share = new DataShare(rank, processes);
            var (from, count) = share.OfBatch(start, batch);
            Assert.Equal(share.OfBatch(batch), count);
            covered.AddRange(Enumerable.Range(from, count));
        }
        Assert.Equal(Enumerable.Range(start, batch), covered);
    }

    [Fact]
    public void SetShares_OfAllProcesses_PartitionTheSet_AndTheLargestIsTheirMost()
    {
        var shares = Enumerable.Range(0, 3).Select(rank => new DataShare(rank, 3).Of(10)).ToList();
        Assert.Equal(Enumerable.Range(0, 10), shares.SelectMany(s => s).Order());
        Assert.Equal(shares.Max(s => s.Length), new DataShare(0, 3).Largest(10));
        Assert.Equal([0, 1, 2, 3, 4], DataShare.Whole.Of(5));
    }

    [Fact]
    public void ABatchThatCannotBeSharedEqually_IsRefusedWithTheRule()
    {
        var e = Assert.Throws<EfficientNetException>(() => new DataShare(1, 2).OfBatch(127));
        Assert.Contains("the batch size (127) must be a multiple of the number of processes (2)", e.Message, StringComparison.Ordinal);
    }
}
