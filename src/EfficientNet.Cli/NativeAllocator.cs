using System.Runtime.InteropServices;

namespace EfficientNet.Cli;

/// <summary>
/// Tunes glibc's malloc, which libtorch's CPU allocator sits on. By default glibc serves every
/// allocation above its mmap threshold (at most 32 MiB) with a fresh <c>mmap</c> and returns it with
/// <c>munmap</c> on free, so each large activation of every forward pass is new memory that the
/// kernel must zero and fault in page by page: on B0 at batch 16 that doubled the time of a pass.
/// Keeping those blocks in the heap (no mmap, no trimming) lets the next pass reuse them: the "retaining
/// allocator" of the benchmarks and of the tool's JSON (<c>retainingAllocator</c>). Memory then stays at its peak
/// instead of going up and down, which is also what a training run wants.
/// </summary>
internal static class NativeAllocator
{
    /// <summary>Set this environment variable to "system" to keep glibc's defaults.</summary>
    public const string OptOutVariable = "EFFNET_MALLOC";

    // From glibc's malloc.h.
    private const int MTrimThreshold = -1;
    private const int MMmapMax = -4;

    /// <summary>
    /// Applies the settings once per process on Linux with glibc; a no-op elsewhere or when
    /// <see cref="OptOutVariable"/> is "system". Returns whether the settings are in effect.
    /// </summary>
    public static bool UseRetainingAllocator()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(OptOutVariable) == "system")
        {
            return false;
        }
        try
        {
            // mallopt returns 1 on success.
            return Mallopt(MMmapMax, 0) == 1 && Mallopt(MTrimThreshold, int.MaxValue) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false; // not glibc (e.g. musl): nothing to tune
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int param, int value);
}
