using System.Globalization;

namespace EfficientNet.Runtime;

/// <summary>How much memory the process can still take.</summary>
internal static class AvailableMemory
{
    /// <summary>Linux's MemAvailable, within the GC's limit (a container's, where there is one); elsewhere the GC's limit.</summary>
    public static long Bytes()
    {
        long limit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (OperatingSystem.IsLinux() && File.Exists("/proc/meminfo"))
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
            if (line is not null && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long kib))
            {
                return Math.Min(limit, kib * 1024);
            }
        }
        return limit;
    }
}
