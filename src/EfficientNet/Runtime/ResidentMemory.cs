using System.Diagnostics;

namespace EfficientNet.Runtime;

/// <summary>The process's resident memory: managed heap and libtorch's native allocations together.</summary>
public static class ResidentMemory
{
    /// <summary>Resident set size in MiB (Linux: VmRSS).</summary>
    public static double Megabytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64 / (1024.0 * 1024.0);
    }
}
