using System.Runtime.InteropServices;

namespace EfficientNet.IO;

/// <summary>
/// Whether a path is a regular file. <see cref="File.Exists(string)"/> is also true for FIFOs, sockets and devices,
/// and opening a FIFO waits for a writer forever, deaf to SIGTERM: readers of image files ask here first.
/// </summary>
internal static class FileKind
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int StatxSize = 256;
    private const int ModeOffset = 28;
    private const ushort TypeMask = 0xF000;
    private const ushort RegularType = 0x8000;

    /// <summary>
    /// True when <paramref name="path"/> (after symbolic links) is a regular file. On Linux this asks the kernel
    /// (<c>statx</c>, whose layout is the same on every architecture); elsewhere it is <see cref="File.Exists(string)"/>.
    /// </summary>
    public static bool IsRegularFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!OperatingSystem.IsLinux())
        {
            return File.Exists(path);
        }
        var buffer = new byte[StatxSize];
        try
        {
            if (Statx(AtFdCwd, path, 0, StatxType, buffer) != 0)
            {
                return false;
            }
        }
        catch (EntryPointNotFoundException)
        {
            // A C library without statx (musl before 1.2.5).
            return File.Exists(path);
        }
        return (MemoryMarshal.Read<ushort>(buffer.AsSpan(ModeOffset)) & TypeMask) == RegularType;
    }

    [DllImport("libc", EntryPoint = "statx", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int Statx(int directory, string path, int flags, uint mask, byte[] buffer);
}
