using System.Diagnostics;
using System.Runtime.InteropServices;

namespace EfficientNet.Runtime;

/// <summary>The process's resident memory, and a way to hand memory that is already free back to the OS.</summary>
internal static class ResidentMemory
{
    /// <summary>The resident set size in MiB.</summary>
    public static double Megabytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64 / (1024.0 * 1024.0);
    }

    /// <summary>
    /// Finalizes unreachable managed objects (tensor wrappers included) and asks glibc to return free
    /// heap pages to the OS, then measures. Called once per epoch by training: freed activation blocks
    /// of different sizes fragment glibc's heap, and without this the resident size drifts up by
    /// over epochs although the number of live tensors stays constant (docs/performance.md#training-1, item 6).
    /// It releases only memory nobody holds, so a real leak still shows.
    /// </summary>
    public static double ReleaseAndMeasure()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        // Aggressive also hands the GC's free regions back to the OS, which a plain collection keeps committed
        // (docs/performance.md#measurements-behind-the-code).
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (OperatingSystem.IsLinux())
        {
            try
            {
                _ = MallocTrim(0); // 1 if memory went back, 0 if there was none to return: neither is an error
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
            {
                // Not glibc (e.g. musl): nothing to trim.
            }
        }
        return Megabytes();
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
