using System.Text;

namespace EfficientNet.IO;

/// <summary>
/// CSV as RFC 4180 writes it, in both directions: a field holding a comma, quote or line break is quoted with quotes
/// doubled; records end at a line feed outside quotes (a carriage return outside quotes is dropped, so CRLF files read
/// too). Fields are written verbatim otherwise: a cell may begin with <c>=</c>, <c>+</c>, <c>-</c> or <c>@</c>.
/// </summary>
public static class Csv
{
    /// <summary>One record's line, without its line feed.</summary>
    public static string Line(IEnumerable<string> fields) => string.Join(',', fields.Select(Field));

    /// <summary>
    /// The complete records of <paramref name="stream"/> from its position, each with the stream offset just past its
    /// line feed and the line it starts on (1-based; a quoted line break spans lines). A last record without a line
    /// feed (cut off by a kill, or a file's last line) is returned only when <paramref name="unterminated"/> is true.
    /// </summary>
    public static IEnumerable<(IReadOnlyList<string> Fields, long End, int Line)> Records(Stream stream, bool unterminated = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        long position = stream.Position;
        int line = 1, start = 1;
        var fields = new List<string>();
        var field = new MemoryStream();
        bool quoted = false, closedQuote = false;
        var buffer = new byte[1 << 16];
        for (int count; (count = stream.Read(buffer)) > 0;)
        {
            for (int i = 0; i < count; i++)
            {
                position++;
                // UTF-8 never uses these byte values inside a multi-byte character, so bytes can be parsed as they come.
                byte b = buffer[i];
                line += b == '\n' ? 1 : 0;
                if (quoted)
                {
                    (quoted, closedQuote) = b == '"' ? (false, true) : (true, false);
                    if (quoted)
                    {
                        field.WriteByte(b);
                    }
                    continue;
                }
                switch (b)
                {
                    case (byte)'"':
                        // Opening quote, or the second of a doubled quote inside a quoted field.
                        if (closedQuote)
                        {
                            field.WriteByte(b);
                        }
                        quoted = true;
                        break;
                    case (byte)',':
                        fields.Add(Decode(field));
                        break;
                    case (byte)'\r':
                        break;
                    case (byte)'\n':
                        fields.Add(Decode(field));
                        yield return (fields, position, start);
                        fields = [];
                        start = line;
                        break;
                    default:
                        field.WriteByte(b);
                        break;
                }
                closedQuote = false;
            }
        }
        if (unterminated && (fields.Count > 0 || field.Length > 0))
        {
            fields.Add(Decode(field));
            yield return (fields, position, start);
        }
    }

    private static string Field(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    private static string Decode(MemoryStream field)
    {
        string text = Encoding.UTF8.GetString(field.GetBuffer(), 0, (int)field.Length);
        field.SetLength(0);
        return text;
    }
}
