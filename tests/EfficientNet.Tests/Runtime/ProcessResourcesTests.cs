using EfficientNet.Runtime;

namespace EfficientNet.Tests.Runtime;

/// <summary>What a host program sets and reads of the process: the device by name, threads within the cores, memory.</summary>
public class ProcessResourcesTests
{
    [Fact]
    public void Devices_ByName_AndAnUnknownOneExplained()
    {
        Assert.Equal(TorchSharp.DeviceType.CPU, ProcessResources.ParseDevice(" CPU ").type);
        var e = Assert.Throws<EfficientNetException>(() => ProcessResources.ParseDevice("tpu"));
        Assert.Equal("the device must be cpu or cuda, got 'tpu'", e.Message);
    }

    [Fact]
    public void Threads_AreBoundedByTheCores_WithAWarning_AndNegativeRefused()
    {
        int before = TorchSharp.torch.get_num_threads();
        try
        {
            var (threads, warning) = ProcessResources.SetThreads(Environment.ProcessorCount + 5);
            Assert.Equal(Environment.ProcessorCount, threads);
            Assert.Contains("more than this machine's", warning, StringComparison.Ordinal);
            Assert.Equal(threads, TorchSharp.torch.get_num_threads());
            Assert.Throws<EfficientNetException>(() => ProcessResources.SetThreads(-1));
        }
        finally
        {
            TorchSharp.torch.set_num_threads(before);
        }
    }

    [Fact]
    public void Memory_IsReadFromTheSystem()
    {
        Assert.InRange(ProcessResources.ResidentMegabytes(), 10, 1 << 20);
        Assert.InRange(ProcessResources.ResidentMegabytesAfterRelease(), 10, 1 << 20);
        Assert.InRange(ProcessResources.AvailableMemoryBytes(), 1L << 20, long.MaxValue);
        Assert.Throws<EfficientNetException>(() => ProcessResources.RequireInferenceMemory(1 << 24, "b7", 600));
    }
}
