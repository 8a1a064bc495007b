using System.Globalization;

namespace EfficientNet.Training.Runs;

/// <summary>
/// The one writer of a run folder: an exclusive lock on its <c>.lock</c> file (an OS file lock, which the kernel
/// releases when the process ends, however it ends, so a killed run leaves nothing stale) held for as long as a run
/// writes there, and who holds it in <c>.writer</c>. <c>.lock</c> is never deleted: a process could otherwise lock a
/// file that is no longer the folder's.
/// </summary>
internal sealed class RunFolderLock : IDisposable
{
    private const string LockFile = ".lock";
    private const string WriterFile = ".writer";

    private readonly FileStream stream;
    private readonly string writer;

    private RunFolderLock(FileStream stream, string writer) => (this.stream, this.writer) = (stream, writer);

    /// <summary>Locks <paramref name="directory"/> (created when missing) for this process.</summary>
    /// <exception cref="EfficientNetException">Another process holds it: the message names the folder and that process.</exception>
    public static RunFolderLock Take(string directory)
    {
        Directory.CreateDirectory(directory);
        string writer = Path.Combine(directory, WriterFile);
        FileStream stream;
        try
        {
            stream = new FileStream(Path.Combine(directory, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e.GetType() == typeof(IOException))
        {
            string holder = File.Exists(writer) ? File.ReadAllText(writer).Trim() : "another process";
            throw new EfficientNetException($"'{directory}' is being written by another run ({holder}); wait for it to end, or pick another folder", e);
        }
        File.WriteAllText(writer, string.Create(CultureInfo.InvariantCulture, $"process {Environment.ProcessId} on {Environment.MachineName}, since {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC"));
        return new RunFolderLock(stream, writer);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        File.Delete(writer);
        stream.Dispose();
    }
}
