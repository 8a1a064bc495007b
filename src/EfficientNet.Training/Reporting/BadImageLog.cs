using System.Collections.Concurrent;
using System.Text;
using EfficientNet.IO;
using EfficientNet.Training.Distributed;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;

namespace EfficientNet.Training.Reporting;

/// <summary>An image that could not be read: which set met it, its path and why.</summary>
internal sealed record BadImage(string Split, string Path, string Reason);

/// <summary>
/// The unreadable images a run skipped (<see cref="ImageReading.SkipBadImages"/>): recorded by the decoding
/// threads as they meet them, taken by the training loop at the end of each epoch and written to the run folder's
/// <see cref="RunFiles.BadImages"/>, one row per (epoch, set, image).
/// </summary>
internal sealed class BadImageLog
{
    private const string Header = "epoch,split,path,reason";

    private readonly ConcurrentQueue<BadImage> met = new();

    /// <summary>What a set named <paramref name="split"/> (training, validation) reports an unreadable image with.</summary>
    public Action<string, string> For(string split) => (path, reason) => met.Enqueue(new BadImage(split, path, reason));

    /// <summary>The images met since the last call.</summary>
    public IReadOnlyList<BadImage> Take()
    {
        var taken = new List<BadImage>();
        while (met.TryDequeue(out var image))
        {
            taken.Add(image);
        }
        return taken;
    }

    /// <summary>Every process's <paramref name="mine"/>, on every process (one all-reduce of the lengths, one of the bytes).</summary>
    public static IReadOnlyList<BadImage> Gather(IReadOnlyList<BadImage> mine, Communicator world)
    {
        if (!world.IsDistributed)
        {
            return mine;
        }
        byte[] own = Encoding.UTF8.GetBytes(string.Join('\n', mine.Select(b => Csv.Line([b.Split, b.Path, b.Reason]))));
        Span<double> lengths = stackalloc double[world.Size];
        lengths.Clear();
        lengths[world.Rank] = own.Length;
        world.AllReduceSum(lengths);
        int offset = 0;
        for (int r = 0; r < world.Rank; r++)
        {
            offset += (int)lengths[r];
        }
        // Each process puts its bytes in its own segment, zeros elsewhere: the sum is every process's bytes in rank order.
        float[] all = new float[(int)lengths.ToArray().Sum()];
        for (int i = 0; i < own.Length; i++)
        {
            all[offset + i] = own[i];
        }
        world.AllReduceSum(all);
        var gathered = new List<BadImage>();
        for (int r = 0, start = 0; r < world.Size; start += (int)lengths[r], r++)
        {
            if (lengths[r] > 0)
            {
                byte[] text = [.. all.AsSpan(start, (int)lengths[r]).ToArray().Select(v => (byte)v)];
                gathered.AddRange(Parse(text).Select(f => new BadImage(f[0], f[1], f[2])));
            }
        }
        return gathered;
    }

    /// <summary>
    /// Adds <paramref name="images"/> met in 1-based <paramref name="epoch"/> to <paramref name="path"/> (rewritten
    /// atomically; an image met again in the same epoch and set, e.g. when an interrupted epoch is resumed, is listed
    /// once) and returns how many images the file lists for that epoch.
    /// </summary>
    public static int Append(string path, int epoch, IReadOnlyList<BadImage> images)
    {
        var rows = File.Exists(path) ? Read(path) : [];
        var known = rows.Select(r => (r.Epoch, r.Image.Split, r.Image.Path)).ToHashSet();
        rows.AddRange(images.Where(b => known.Add((epoch, b.Split, b.Path))).Select(b => (epoch, b)));
        if (images.Count > 0)
        {
            var text = new StringBuilder(Header).Append('\n');
            foreach (var (e, b) in rows)
            {
                text.Append(Csv.Line([e.ToString(System.Globalization.CultureInfo.InvariantCulture), b.Split, b.Path, b.Reason])).Append('\n');
            }
            AtomicFile.WriteAllText(path, text.ToString());
        }
        return rows.Count(r => r.Epoch == epoch);
    }

    private static List<(int Epoch, BadImage Image)> Read(string path)
    {
        using var stream = File.OpenRead(path);
        var rows = new List<(int, BadImage)>();
        foreach (var (fields, _, line) in Csv.Records(stream, unterminated: true).Skip(1))
        {
            if (fields.Count != 4 || !int.TryParse(fields[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int epoch))
            {
                throw new EfficientNetException($"'{path}' line {line} is not an {Header} row; repair the file or remove it (it only lists the images a run skipped)");
            }
            rows.Add((epoch, new BadImage(fields[1], fields[2], fields[3])));
        }
        return rows;
    }

    private static IEnumerable<IReadOnlyList<string>> Parse(byte[] lines)
    {
        using var stream = new MemoryStream(lines);
        return [.. Csv.Records(stream, unterminated: true).Select(r => r.Fields)];
    }
}
