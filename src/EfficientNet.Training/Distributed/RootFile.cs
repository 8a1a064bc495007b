
namespace EfficientNet.Training.Distributed;

/// <summary>
/// A file rank 0 has that every process must read (a checkpoint to resume, a fine-tuning's phase 1 model), whichever
/// machine it runs on: rank 0 reads it from its path and sends the bytes; the others write them to a temporary file,
/// deleted on disposal. In a job of one process it is the path itself.
/// </summary>
internal sealed class RootFile : IDisposable
{
    private readonly bool temporary;

    private RootFile(string path, bool temporary) => (Path, this.temporary) = (path, temporary);

    /// <summary>Where this process reads the file.</summary>
    public string Path { get; }

    /// <summary>Rank 0's <paramref name="path"/> readable on this process; null for a null path.</summary>
    /// <exception cref="EfficientNetException">The file does not exist on rank 0.</exception>
    public static RootFile? Share(string? path, Communicator world)
    {
        ArgumentNullException.ThrowIfNull(world);
        if (path is null)
        {
            return null;
        }
        if (!world.IsDistributed)
        {
            return new RootFile(path, temporary: false);
        }
        if (world.IsRoot && !File.Exists(path))
        {
            throw new EfficientNetException($"'{path}' does not exist");
        }
        byte[] bytes = world.Broadcast(world.IsRoot ? File.ReadAllBytes(path) : null);
        if (world.IsRoot)
        {
            return new RootFile(path, temporary: false);
        }
        string copy = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"effnet-rank{world.Rank}-{Guid.NewGuid():N}{System.IO.Path.GetExtension(path)}");
        File.WriteAllBytes(copy, bytes);
        return new RootFile(copy, temporary: true);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (temporary)
        {
            File.Delete(Path);
        }
    }
}
