using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace EfficientNet.Runtime;

/// <summary>
/// Per-thread control of libtorch's OpenMP parallelism. libtorch (CPU) runs its intra-op work in
/// OpenMP teams whose size is a per-thread setting; a helper thread (the data loader's) that uses the
/// default starts its own team of N threads beside the training thread's team, and on a 2-core machine
/// the two teams' spinning workers fight for the cores (docs/performance.md#measurements-behind-the-code).
/// Limiting the helper thread to one thread leaves the cores to training.
/// </summary>
internal static class IntraOpThreads
{
    private static readonly Lazy<SetNumThreads?> OmpSetNumThreads = new(FindOpenMp);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetNumThreads(int count);

    /// <summary>
    /// Sets libtorch's intra-op threads for the process: 0 keeps libtorch's default (one per
    /// physical core); more than the machine's logical cores is cut to that count, with a warning, because
    /// oversubscribed OpenMP teams spin against each other and slow a batch down by orders of magnitude.
    /// </summary>
    /// <returns>The count in effect (0: libtorch's default) and the warning, if the request was cut.</returns>
    /// <exception cref="EfficientNetException"><paramref name="requested"/> is negative.</exception>
    public static (int Threads, string? Warning) SetProcessThreads(int requested)
    {
        int threads = Bound(requested, out string? warning);
        if (threads > 0)
        {
            set_num_threads(threads);
        }
        return (threads, warning);
    }

    /// <summary>A thread count for any engine: negative is an error, more than the logical cores is cut to them.</summary>
    public static int Bound(int requested, out string? warning)
    {
        if (requested < 0)
        {
            throw new EfficientNetException($"the thread count must be 0 (the default) or positive, got {requested}");
        }
        int cores = Environment.ProcessorCount;
        warning = requested > cores ? $"{requested} threads are more than this machine's {cores} logical cores; using {cores}" : null;
        return Math.Min(requested, cores);
    }

    /// <summary>
    /// Makes libtorch ops issued from the calling thread use <paramref name="count"/> threads. Returns
    /// false where there is no OpenMP runtime to tune (then nothing changes).
    /// </summary>
    public static bool LimitCurrentThread(int count)
    {
        var set = OmpSetNumThreads.Value;
        if (set is null)
        {
            return false;
        }
        // libtorch applies its global thread count to a thread the first time it runs a parallel op
        // there; run one first so that it does not overwrite the limit afterwards.
        using (var warm = ones(64 * 1024))
        using (warm.sum())
        {
        }
        set(count);
        return true;
    }

    private static SetNumThreads? FindOpenMp()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        // The OpenMP runtime libtorch loaded (libgomp with a hash suffix in the TorchSharp packages).
        string? path = File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault())
            .FirstOrDefault(p => p is not null && p.StartsWith('/') && (Path.GetFileName(p).StartsWith("libgomp", StringComparison.Ordinal) || Path.GetFileName(p).StartsWith("libiomp", StringComparison.Ordinal)));
        if (path is null || !NativeLibrary.TryLoad(path, out var handle) || !NativeLibrary.TryGetExport(handle, "omp_set_num_threads", out var function))
        {
            return null;
        }
        return Marshal.GetDelegateForFunctionPointer<SetNumThreads>(function);
    }
}
