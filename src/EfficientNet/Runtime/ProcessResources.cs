using static TorchSharp.torch;

namespace EfficientNet.Runtime;

/// <summary>
/// The resources of this process as the library uses them: the device a name stands for, libtorch's thread count,
/// the memory the process holds and the machine has free, and which CPU convolution kernels run. A host program
/// (a command-line tool, a service) sets these once at start and reads them for its reports.
/// </summary>
public static class ProcessResources
{
    /// <summary>The device <paramref name="name"/> (cpu or cuda) stands for.</summary>
    /// <exception cref="EfficientNetException">Another name, or cuda on a build or machine without it.</exception>
    public static Device ParseDevice(string name) => Devices.Parse(name);

    /// <summary>
    /// Sets libtorch's intra-op threads for the whole process to <paramref name="requested"/> (0: leave libtorch's
    /// default), bounded by the logical cores; returns the count set and, when it was bounded, a warning saying so.
    /// </summary>
    /// <exception cref="EfficientNetException">A negative count.</exception>
    public static (int Threads, string? Warning) SetThreads(int requested) => IntraOpThreads.SetProcessThreads(requested);

    /// <summary>The process's resident memory in MiB.</summary>
    public static double ResidentMegabytes() => ResidentMemory.Megabytes();

    /// <summary>
    /// The process's resident memory in MiB after giving back what it can (a full garbage collection and, on glibc,
    /// free heap pages): the figure to compare from step to step when looking for growth.
    /// </summary>
    public static double ResidentMegabytesAfterRelease() => ResidentMemory.ReleaseAndMeasure();

    /// <summary>Bytes this process may still use: the machine's available memory, within the runtime's own limit (a container's).</summary>
    public static long AvailableMemoryBytes() => AvailableMemory.Bytes();

    /// <summary>Fails unless a forward pass of <paramref name="batch"/> images of <paramref name="variant"/> at <paramref name="resolution"/> fits in <see cref="AvailableMemoryBytes"/>.</summary>
    /// <exception cref="EfficientNetException">The batch would not fit; the message says how much it needs and what there is.</exception>
    public static void RequireInferenceMemory(int batch, string variant, int resolution) => InferenceMemory.Require(batch, variant, resolution);

    /// <summary>
    /// Told, once per process, which convolution kernels run when this CPU's convolutions are checked (and why), and of
    /// any convolution shape that falls back from oneDNN; null (the default) keeps quiet.
    /// </summary>
    public static Action<string>? KernelNotes
    {
        get => CpuKernels.Notes;
        set => CpuKernels.Notes = value;
    }
}
