using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO.Enumeration;
using EfficientNet.IO;
using EfficientNet.Runtime;
using static TorchSharp.torch;

namespace EfficientNet.Inference.Batch;

/// <summary>One part of a listing split over several machines: part <see cref="Index"/> (1-based) of <see cref="Count"/>.</summary>
public readonly record struct Shard(int Index, int Count)
{
    /// <summary>Parses "K/N" with 1 ≤ K ≤ N.</summary>
    public static Shard Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split('/');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count)
            && count >= 1 && index >= 1 && index <= count)
        {
            return new Shard(index, count);
        }
        throw new EfficientNetException($"BatchPredictionOptions.Shard must be K/N with 1 <= K <= N (e.g. 2/4), got '{text}'");
    }

    /// <summary>This shard's contiguous part of a sorted listing; the N parts cover it exactly once.</summary>
    public IReadOnlyList<T> Of<T>(IReadOnlyList<T> sorted)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        int start = (int)((long)(Index - 1) * sorted.Count / Count);
        int end = (int)((long)Index * sorted.Count / Count);
        return sorted.Skip(start).Take(end - start).ToArray();
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>How to run a batch prediction.</summary>
public sealed record BatchPredictionOptions
{
    /// <summary>Images per forward pass.</summary>
    public int Batch { get; init; } = 16;

    /// <summary>Classes per row.</summary>
    public int Top { get; init; } = 5;

    /// <summary>The part of the listing to do; null: all of it.</summary>
    public Shard? Shard { get; init; }

    /// <summary>Threads that decode images (while the engine runs the previous batch).</summary>
    public int DecodeThreads { get; init; } = Environment.ProcessorCount;
}

/// <summary>What a batch prediction did.</summary>
/// <param name="Output">The predictions file.</param>
/// <param name="Listed">Images in the whole listing.</param>
/// <param name="InShard">Images in this shard (the listing when unsharded).</param>
/// <param name="AlreadyWritten">Images of the shard the output already held (skipped: resume).</param>
/// <param name="Predicted">Images classified by this run.</param>
/// <param name="Failures">Images this run could not classify (as listed), with why (each has an error row).</param>
/// <param name="Seconds">Wall time of this run.</param>
/// <param name="Interrupted">Whether cancellation stopped the run early (re-run to resume).</param>
public sealed record BatchPredictionSummary(string Output, int Listed, int InShard, int AlreadyWritten, int Predicted, IReadOnlyList<(string Path, string Error)> Failures, double Seconds, bool Interrupted)
{
    /// <summary>Images classified per second by this run.</summary>
    public double ImagesPerSecond => Seconds > 0 ? Predicted / Seconds : 0;
}

/// <summary>
/// Classifies a folder or a list of images into a CSV or JSON Lines file: streams the listing in batches
/// (never the whole set in memory), decodes each batch on several threads while the engine runs the one
/// before, writes one row per image (an unreadable one gets an error row and the run goes on), skips images
/// the output already holds (resume), and can take one deterministic part of the sorted listing (shards).
/// </summary>
public static class BatchPrediction
{
    /// <summary>
    /// The sorted listing of <paramref name="source"/>: a folder's image files (searched recursively, as
    /// paths relative to it, with '/' separators), or a text file's lines (one path per line, relative to
    /// the file's folder unless absolute; blank lines and lines starting with # skipped).
    /// </summary>
    public static IReadOnlyList<string> List(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (Directory.Exists(source))
        {
            var files = ImageFiles(source)
                .Select(f => Path.GetRelativePath(source, f).Replace(Path.DirectorySeparatorChar, '/'))
                .Order(StringComparer.Ordinal)
                .ToArray();
            return files.Length > 0
                ? files
                : throw new EfficientNetException($"no images ({string.Join(", ", Imaging.ImageDecoder.Extensions)}) under '{source}'");
        }
        if (!File.Exists(source))
        {
            throw new EfficientNetException($"'{source}' is neither a folder nor a list file of images");
        }
        var lines = File.ReadLines(source).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        return lines.Length > 0 ? lines : throw new EfficientNetException($"the list '{source}' names no images");
    }

    /// <summary>
    /// The image files under <paramref name="folder"/>: regular files (or links to them) with an image extension, in
    /// every subfolder except those reached through a link (a link to a parent or to / would list without end).
    /// </summary>
    private static IEnumerable<string> ImageFiles(string folder) =>
        new FileSystemEnumerable<string>(folder, (ref FileSystemEntry entry) => entry.ToFullPath(), new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = false })
        {
            ShouldRecursePredicate = (ref FileSystemEntry entry) => (entry.Attributes & FileAttributes.ReparsePoint) == 0,
            ShouldIncludePredicate = (ref FileSystemEntry entry) => !entry.IsDirectory && Imaging.ImageDecoder.Extensions.Contains(Path.GetExtension(entry.FileName).ToString().ToLowerInvariant()),
        }.Where(path => FileKind.Of(path) != FileType.Special);

    /// <summary>Fails before any work when <paramref name="output"/> is not a .csv or .jsonl file in an existing folder.</summary>
    public static void CheckOutput(string output) => PredictionFile.CheckTarget(output);

    // Where a listed image is on disk.
    private static string Locate(string source, string listed) =>
        Path.IsPathRooted(listed) ? listed : Path.Combine(Directory.Exists(source) ? source : Path.GetDirectoryName(Path.GetFullPath(source))!, listed);

    /// <summary>Classifies the images of <paramref name="source"/> (see <see cref="List"/>) into <paramref name="output"/>.</summary>
    public static BatchPredictionSummary Run(
        Classifier classifier,
        string source,
        string output,
        BatchPredictionOptions options,
        IProgress<(int Done, int Total, int Failed, double Seconds)>? progress = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Batch <= 0 || options.Top <= 0 || options.DecodeThreads <= 0)
        {
            throw new EfficientNetException($"BatchPredictionOptions.Batch and BatchPredictionOptions.Top must be positive, got {options.Batch} and {options.Top}");
        }
        CheckOutput(output);
        InferenceMemory.Require(options.Batch, classifier.Info.Variant, classifier.Info.Resolution);
        var listing = List(source);
        var shard = options.Shard is { } s ? s.Of(listing) : listing;
        using var file = PredictionFile.Open(output, options.Top);
        var pending = shard.Where(p => !file.Written.Contains(p)).ToArray();

        var clock = Stopwatch.StartNew();
        var failures = new List<(string Path, string Error)>();
        int done = 0;
        using var decoded = new BlockingCollection<DecodedBatch>(boundedCapacity: 1);
        // Stops the decoder when the user cancels, and when classifying fails (so it does not wait on a full queue).
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var decoder = Task.Run(() => Decode(classifier.Info, source, pending, options, decoded, stop.Token), CancellationToken.None);
        try
        {
            foreach (var batch in decoded.GetConsumingEnumerable(CancellationToken.None))
            {
                foreach (var row in Classify(classifier, batch, options.Top))
                {
                    file.Write(row);
                    if (row.Error is not null)
                    {
                        failures.Add((row.Path, row.Error));
                    }
                }
                file.Flush();
                done += batch.Paths.Length;
                progress?.Report((done, pending.Length, failures.Count, clock.Elapsed.TotalSeconds));
            }
        }
        finally
        {
            stop.Cancel();
            decoder.GetAwaiter().GetResult();
        }
        return new BatchPredictionSummary(output, listing.Count, shard.Count, shard.Count - pending.Length, done - failures.Count, failures,
            clock.Elapsed.TotalSeconds, done < pending.Length);
    }

    /// <summary>A batch's images decoded into one buffer; <see cref="Errors"/>[i] is set where image i failed.</summary>
    private sealed record DecodedBatch(string[] Paths, float[] Pixels, string?[] Errors);

    private static void Decode(ClassifierInfo info, string source, string[] pending, BatchPredictionOptions options, BlockingCollection<DecodedBatch> decoded, CancellationToken stop)
    {
        try
        {
            int size = 3 * info.Resolution * info.Resolution;
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.DecodeThreads };
            foreach (string[] paths in pending.Chunk(options.Batch))
            {
                if (stop.IsCancellationRequested)
                {
                    break;
                }
                var pixels = new float[paths.Length * size];
                var errors = new string?[paths.Length];
                Parallel.For(0, paths.Length, parallel, i =>
                {
                    try
                    {
                        Imaging.ImageDecoder.LoadInto(Locate(source, paths[i]), info.Preprocessing, pixels.AsSpan(i * size, size));
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        // Whatever a file does to the decoder, it costs its own row only.
                        errors[i] = e.Message;
                    }
                });
                decoded.Add(new DecodedBatch(paths, pixels, errors), stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped while waiting for room in the queue.
        }
        finally
        {
            decoded.CompleteAdding();
        }
    }

    private static IEnumerable<PredictionRow> Classify(Classifier classifier, DecodedBatch batch, int top)
    {
        int[] ok = [.. Enumerable.Range(0, batch.Paths.Length).Where(i => batch.Errors[i] is null)];
        var predictions = new IReadOnlyList<Prediction>[batch.Paths.Length];
        if (ok.Length > 0)
        {
            int size = batch.Pixels.Length / batch.Paths.Length;
            int side = classifier.Info.Resolution;
            float[] pixels = batch.Pixels;
            if (ok.Length < batch.Paths.Length)
            {
                pixels = new float[ok.Length * size];
                for (int j = 0; j < ok.Length; j++)
                {
                    Array.Copy(batch.Pixels, ok[j] * size, pixels, j * size, size);
                }
            }
            using var images = tensor(pixels, [ok.Length, 3, side, side]);
            var rows = classifier.Predict(images, top);
            for (int j = 0; j < ok.Length; j++)
            {
                predictions[ok[j]] = rows[j];
            }
        }
        return batch.Paths.Select((path, i) => new PredictionRow(path, predictions[i] ?? [], batch.Errors[i]));
    }
}
