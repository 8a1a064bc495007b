using System.Runtime.InteropServices;

namespace EfficientNet.Imaging;

/// <summary>
/// Decodes JPEG through libjpeg-turbo's TurboJPEG library when the system has one (Debian and Ubuntu:
/// <c>libturbojpeg0</c>; macOS: Homebrew's <c>jpeg-turbo</c>), bound at run time. SkiaSharp decodes JPEG with its own
/// build of libjpeg-turbo, compiled without the library's SIMD code; TurboJPEG's build has it and decodes a photo in
/// about half the time, to the same pixels (the same integer IDCT and upsampling; the tests compare every byte). Only on
/// 64-bit Linux and macOS, where C's <c>unsigned long</c> (the JPEG's length) is 64 bits wide. The environment variable
/// <c>EFFNET_TURBOJPEG</c> set to <c>off</c> turns it off, set to a path names the library.
/// </summary>
internal static unsafe class TurboJpeg
{
    private const int PixelFormatRgba = 7; // TJPF_RGBA: R, G, B, and 255
    private const int StopOnWarning = 8192; // TJFLAG_STOPONWARNING: corrupt data fails instead of decoding to grey
    private const int LimitScans = 32768; // TJFLAG_LIMITSCANS: a progressive JPEG of thousands of scans fails

    private static readonly (Functions? Library, string? Problem) Binding = Load();

    /// <summary>Whether a TurboJPEG library was found and bound.</summary>
    public static bool Available => Binding.Library is not null;

    /// <summary>Why the library <c>EFFNET_TURBOJPEG</c> names is not bound; null when it is, or when none is named.</summary>
    public static string? Problem => Binding.Problem;

    /// <summary>
    /// Decodes <paramref name="jpeg"/> into <paramref name="rgba"/>, <paramref name="width"/> x <paramref name="height"/>
    /// pixels of 4 bytes, rows packed. False, leaving the pixels undefined, when no library is bound, when the image is
    /// not that size, or on anything the library reports, a warning included (CMYK, corrupt or truncated data): the
    /// caller then decodes with SkiaSharp, whose errors users see.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> jpeg, int width, int height, nint rgba)
    {
        if (Binding.Library is not { } f || jpeg.IsEmpty)
        {
            return false;
        }
        nint handle = f.InitDecompress();
        if (handle == 0)
        {
            return false;
        }
        try
        {
            fixed (byte* data = jpeg)
            {
                int storedWidth, storedHeight, subsampling, colourSpace;
                return f.DecompressHeader(handle, data, (nuint)jpeg.Length, &storedWidth, &storedHeight, &subsampling, &colourSpace) == 0
                    && storedWidth == width && storedHeight == height
                    && f.Decompress(handle, data, (nuint)jpeg.Length, (byte*)rgba, width, 4 * width, height, PixelFormatRgba, StopOnWarning | LimitScans) == 0;
            }
        }
        finally
        {
            _ = f.Destroy(handle);
        }
    }

    private sealed class Functions(nint library)
    {
        public readonly delegate* unmanaged<nint> InitDecompress = (delegate* unmanaged<nint>)NativeLibrary.GetExport(library, "tjInitDecompress");
        public readonly delegate* unmanaged<nint, byte*, nuint, int*, int*, int*, int*, int> DecompressHeader =
            (delegate* unmanaged<nint, byte*, nuint, int*, int*, int*, int*, int>)NativeLibrary.GetExport(library, "tjDecompressHeader3");
        public readonly delegate* unmanaged<nint, byte*, nuint, byte*, int, int, int, int, int, int> Decompress =
            (delegate* unmanaged<nint, byte*, nuint, byte*, int, int, int, int, int, int>)NativeLibrary.GetExport(library, "tjDecompress2");
        public readonly delegate* unmanaged<nint, int> Destroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "tjDestroy");
    }

    // EFFNET_TURBOJPEG=off leaves every JPEG to SkiaSharp; EFFNET_TURBOJPEG=/path/to/libturbojpeg.so names the library,
    // and why that one is not bound is the problem. The system's library is optional: its absence is no problem.
    private static (Functions?, string?) Load()
    {
        string? setting = Environment.GetEnvironmentVariable("EFFNET_TURBOJPEG");
        if (string.Equals(setting, "off", StringComparison.OrdinalIgnoreCase))
        {
            return (null, null);
        }
        bool named = !string.IsNullOrEmpty(setting);
        string? Problem(string why) => named ? $"EFFNET_TURBOJPEG names '{setting}', {why}; SkiaSharp decodes JPEG" : null;
        if (!Environment.Is64BitProcess || !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()))
        {
            return (null, Problem("but TurboJPEG is bound only on 64-bit Linux and macOS"));
        }
        string[] names = named ? [setting!]
            : OperatingSystem.IsLinux() ? ["libturbojpeg.so.0"]
            : ["libturbojpeg.0.dylib", "/opt/homebrew/opt/jpeg-turbo/lib/libturbojpeg.0.dylib", "/usr/local/opt/jpeg-turbo/lib/libturbojpeg.0.dylib"];
        foreach (string name in names)
        {
            if (!NativeLibrary.TryLoad(name, out nint library))
            {
                continue;
            }
            try
            {
                return (new Functions(library), null);
            }
            catch (EntryPointNotFoundException)
            {
                NativeLibrary.Free(library);
                if (named)
                {
                    return (null, Problem("which lacks TurboJPEG's functions (tjInitDecompress, tjDecompressHeader3, tjDecompress2, tjDestroy)"));
                }
            }
        }
        return (null, Problem("which does not load as a library (a missing file, or another architecture's)"));
    }
}
