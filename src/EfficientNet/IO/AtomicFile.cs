namespace EfficientNet.IO;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new one, never a partial
/// file: the data goes to a temporary file in the same folder, is flushed to disk, then renamed over
/// the target (an atomic rename on POSIX file systems). A failure leaves the old file untouched.
/// </summary>
public static partial class AtomicFile
{
    /// <summary>Creates or replaces <paramref name="path"/> with what <paramref name="write"/> puts in the stream.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        if (WhyNotAFile(path, full) is { } problem)
        {
            throw new EfficientNetException(problem);
        }
        string directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = Create(temp, full))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// Deletes the temporary files that writes into <paramref name="directory"/> left behind when their process was
    /// killed mid-write (the target itself was never touched); returns how many.
    /// </summary>
    public static int RemoveLeftovers(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return 0;
        }
        var leftovers = Directory.GetFiles(directory, ".*.tmp").Where(f => TempName().IsMatch(Path.GetFileName(f))).ToList();
        leftovers.ForEach(File.Delete);
        return leftovers.Count;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\..+\.[0-9a-f]{32}\.tmp$")]
    private static partial System.Text.RegularExpressions.Regex TempName();

    /// <summary>
    /// Fails before any work is done when <paramref name="path"/> cannot be written as a file: it is a folder, a file
    /// stands where a folder of its path should be, or its folder does not exist.
    /// </summary>
    public static void RequireFolder(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        string? problem = WhyNotAFile(path, full)
            ?? (Directory.Exists(folder) ? null : $"cannot write '{path}': the folder '{folder}' does not exist; create it first");
        if (problem is not null)
        {
            throw new EfficientNetException(problem);
        }
    }

    /// <summary>Why <paramref name="full"/> (<paramref name="path"/> as given) can never be a file, or null.</summary>
    private static string? WhyNotAFile(string path, string full)
    {
        if (Directory.Exists(full))
        {
            return $"cannot write '{path}': it is a folder; name a file in it";
        }
        for (string? folder = Path.GetDirectoryName(full); folder is not null && !Directory.Exists(folder); folder = Path.GetDirectoryName(folder))
        {
            if (File.Exists(folder))
            {
                return $"cannot write '{path}': '{folder}' is a file, not a folder";
            }
        }
        return null;
    }

    private static FileStream Create(string temp, string target)
    {
        try
        {
            return new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new EfficientNetException($"cannot write '{target}': the folder is not writable ({e.Message})", e);
        }
    }

    /// <summary>Atomically writes <paramref name="text"/> as UTF-8.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            writer.Write(text);
        });

    /// <summary>Atomically makes <paramref name="path"/> a copy of <paramref name="source"/>.</summary>
    public static void Copy(string source, string path) =>
        Write(path, stream =>
        {
            using var from = File.OpenRead(source);
            from.CopyTo(stream);
        });
}
