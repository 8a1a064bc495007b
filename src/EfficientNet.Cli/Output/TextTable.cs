using System.Globalization;

namespace EfficientNet.Cli.Output;

/// <summary>A plain aligned text table: deterministic, never truncated, readable in a pipe or a log.</summary>
internal sealed class TextTable
{
    private readonly string[] headers;
    private readonly bool[] rightAligned;
    private readonly List<string[]> rows = [];

    /// <summary>Columns whose header starts with '>' are right-aligned (numbers); the '>' is not shown.</summary>
    public TextTable(params string[] headers)
    {
        this.headers = headers.Select(h => h.TrimStart('>')).ToArray();
        rightAligned = headers.Select(h => h.StartsWith('>')).ToArray();
    }

    public TextTable Add(params object?[] cells)
    {
        if (cells.Length != headers.Length)
        {
            throw new ArgumentException($"expected {headers.Length} cells, got {cells.Length}");
        }
        rows.Add(cells.Select(c => Convert.ToString(c, CultureInfo.InvariantCulture) ?? "").ToArray());
        return this;
    }

    public void Write(TextWriter writer)
    {
        int[] widths = headers.Select((h, i) => Math.Max(h.Length, rows.Select(r => r[i].Length).DefaultIfEmpty(0).Max())).ToArray();
        WriteRow(writer, headers, widths);
        writer.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in rows)
        {
            WriteRow(writer, row, widths);
        }
    }

    private void WriteRow(TextWriter writer, string[] cells, int[] widths) =>
        writer.WriteLine(string.Join("  ", cells.Select((c, i) => rightAligned[i] ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd());
}
