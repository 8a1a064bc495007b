using System.Globalization;
using System.Text;
using System.Text.Json;
using EfficientNet.IO;

namespace EfficientNet.Inference.Batch;

/// <summary>One output row of a batch prediction: an image and its top classes, or the error that stopped it.</summary>
/// <param name="Path">The image as listed (relative to the listed folder, or as written in the list file).</param>
/// <param name="Predictions">Top classes, best first; empty when <paramref name="Error"/> is set.</param>
/// <param name="Error">Why the image could not be classified, or null.</param>
internal sealed record PredictionRow(string Path, IReadOnlyList<Prediction> Predictions, string? Error);

/// <summary>
/// The streamed output of a batch prediction, CSV (<c>path,label_1,index_1,probability_1,…,error</c>) or
/// JSON Lines (<c>{"path", "predictions": [{index, label, probability}], "error"}</c>), chosen by the
/// extension. Rows are appended and flushed per batch, so an interrupted run keeps what it finished;
/// reopening the file lists the paths already written (resume) and drops a row cut off by a kill.
/// </summary>
internal sealed class PredictionFile : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly StreamWriter writer;
    private readonly bool csv;
    private readonly int top;

    private PredictionFile(StreamWriter writer, bool csv, int top)
    {
        this.writer = writer;
        this.csv = csv;
        this.top = top;
    }

    /// <summary>The paths of the complete rows the file held when it was opened.</summary>
    public HashSet<string> Written { get; } = new(StringComparer.Ordinal);

    /// <summary>Checks that <paramref name="path"/> can be written (extension, folder) without creating anything.</summary>
    public static void CheckTarget(string path)
    {
        string extension = System.IO.Path.GetExtension(path).ToLowerInvariant();
        if (extension is not (".csv" or ".jsonl"))
        {
            throw new EfficientNetException($"a prediction file must end in .csv or .jsonl, got '{path}'");
        }
        IO.AtomicFile.RequireFolder(path);
    }

    /// <summary>Opens <paramref name="path"/> for appending, reading the rows already there.</summary>
    public static PredictionFile Open(string path, int top)
    {
        CheckTarget(path);
        bool csv = string.Equals(System.IO.Path.GetExtension(path), ".csv", StringComparison.OrdinalIgnoreCase);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new EfficientNetException($"cannot write '{path}': {e.Message}", e);
        }
        try
        {
            var file = new PredictionFile(new StreamWriter(stream, new UTF8Encoding(false)), csv, top);
            file.Resume(stream, path);
            return file;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Appends rows (call <see cref="Flush"/> after a batch).</summary>
    public void Write(PredictionRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        writer.Write(csv ? CsvLine(row) : JsonSerializer.Serialize(new { row.Path, row.Predictions, row.Error }, Json));
        writer.Write('\n');
    }

    /// <summary>Pushes the written rows to the file.</summary>
    public void Flush()
    {
        writer.Flush();
        ((FileStream)writer.BaseStream).Flush(flushToDisk: false);
    }

    public void Dispose() => writer.Dispose();

    private string Header() =>
        string.Join(',', Enumerable.Range(1, top).SelectMany(k => new[] { $"label_{k}", $"index_{k}", $"probability_{k}" }).Prepend("path").Append("error"));

    private string CsvLine(PredictionRow row)
    {
        var fields = new List<string> { row.Path };
        for (int k = 0; k < top; k++)
        {
            var p = k < row.Predictions.Count ? row.Predictions[k] : null;
            fields.Add(p?.Label ?? "");
            fields.Add(p is null ? "" : p.Index.ToString(CultureInfo.InvariantCulture));
            fields.Add(p is null ? "" : p.Probability.ToString("R", CultureInfo.InvariantCulture));
        }
        fields.Add(row.Error ?? "");
        return Csv.Line(fields);
    }

    private void Resume(FileStream stream, string path)
    {
        // A row cut off by a kill is dropped; it is predicted again.
        long complete = csv ? ReadCsvRows(stream, path) : ReadJsonRows(stream, path);
        stream.SetLength(complete);
        stream.Seek(0, SeekOrigin.End);
        if (csv && stream.Length == 0)
        {
            writer.Write(Header() + "\n");
        }
    }

    // Reads the paths of the complete rows; returns the length they take.
    private long ReadCsvRows(FileStream stream, string path)
    {
        long complete = 0;
        stream.Seek(0, SeekOrigin.Begin);
        foreach (var (fields, end, _) in Csv.Records(stream))
        {
            // The first record is the header.
            if (complete == 0 && Csv.Line(fields) != Header())
            {
                throw new EfficientNetException(
                    $"'{path}' holds other columns than this run writes (BatchPredictionOptions.Top {top}): its header is '{Truncate(Csv.Line(fields))}'; resume it with the same BatchPredictionOptions.Top, or write to another file");
            }
            if (complete > 0 && fields is not [""])
            {
                Written.Add(fields[0]);
            }
            complete = end;
        }
        return complete;
    }

    // Reads the paths of the complete rows (JSON escapes line breaks: a row is a line); returns the length they take.
    private long ReadJsonRows(FileStream stream, string path)
    {
        long complete = CompleteLength(stream);
        stream.SetLength(complete);
        stream.Seek(0, SeekOrigin.Begin);
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16, leaveOpen: true);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                Written.Add(JsonPath(line, path));
            }
        }
        return complete;
    }

    // The length up to and including the last line break.
    private static long CompleteLength(FileStream stream)
    {
        var buffer = new byte[1 << 16];
        for (long end = stream.Length; end > 0;)
        {
            int count = (int)Math.Min(buffer.Length, end);
            stream.Seek(end - count, SeekOrigin.Begin);
            stream.ReadExactly(buffer, 0, count);
            int newline = Array.LastIndexOf(buffer, (byte)'\n', count - 1, count);
            if (newline >= 0)
            {
                return end - count + newline + 1;
            }
            end -= count;
        }
        return 0;
    }

    private static string JsonPath(string line, string path)
    {
        try
        {
            using var row = JsonDocument.Parse(line);
            return row.RootElement.GetProperty("path").GetString()!;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new EfficientNetException($"'{path}' has a line that is not a prediction row ('{Truncate(line)}'); write to another file", e);
        }
    }

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
