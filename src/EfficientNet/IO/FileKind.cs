using System.Runtime.InteropServices;

namespace EfficientNet.IO;

/// <summary>What a path names on disk, as far as reading it as a file is concerned.</summary>
internal enum FileType
{
    /// <summary>Nothing this process can see (absent, or a name it cannot pass to the kernel, such as one that is not UTF-8).</summary>
    Missing,

    /// <summary>A regular file, or a link to one.</summary>
    Regular,

    /// <summary>Something else: a folder, FIFO, socket or device (opening a FIFO waits for a writer forever).</summary>
    Special,
}

/// <summary>
/// Tells regular files from the rest. <see cref="File.Exists(string)"/> is also true for FIFOs, sockets and devices,
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
    /// What <paramref name="path"/> (after symbolic links) is. On Linux this asks the kernel (<c>statx</c>, whose layout
    /// is the same on every architecture); elsewhere, and with a C library without <c>statx</c>, System.IO's view.
    /// </summary>
    public static FileType Of(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!OperatingSystem.IsLinux())
        {
            return Portable(path);
        }
        var buffer = new byte[StatxSize];
        try
        {
            if (Statx(AtFdCwd, path, 0, StatxType, buffer) != 0)
            {
                return FileType.Missing;
            }
        }
        catch (EntryPointNotFoundException)
        {
            // musl before 1.2.5.
            return Portable(path);
        }
        return (MemoryMarshal.Read<ushort>(buffer.AsSpan(ModeOffset)) & TypeMask) == RegularType ? FileType.Regular : FileType.Special;
    }

    private static FileType Portable(string path) =>
        File.Exists(path) ? FileType.Regular : Directory.Exists(path) ? FileType.Special : FileType.Missing;

    [DllImport("libc", EntryPoint = "statx", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int Statx(int directory, string path, int flags, uint mask, byte[] buffer);
}
