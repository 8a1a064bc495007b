using System.Text;
using EfficientNet.IO;

namespace EfficientNet.Tests.IO;

/// <summary>CSV as RFC 4180 writes it reads back field for field, whatever the fields hold.</summary>
public class CsvTests
{
    [Fact]
    public void Lines_ReadBack_WithCommasQuotesLineBreaksAndCrLf()
    {
        string[][] rows = [["plain", "a,b", "say \"hi\""], ["two\nlines", "", "=1+2"], ["ünïcode", "x\r\ny", "end"]];
        string text = string.Concat(rows.Select(r => Csv.Line(r) + "\r\n"));
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));

        var read = Csv.Records(stream).ToList();

        Assert.Equal(rows.Select(r => r.ToList()), read.Select(r => r.Fields.ToList()));
        Assert.Equal([1, 2, 4], read.Select(r => r.Line));
        Assert.Equal(stream.Length, read[^1].End);
    }

    [Fact]
    public void AnUnterminatedLastRecord_IsReturnedOnlyWhenAskedFor()
    {
        byte[] bytes = Encoding.UTF8.GetBytes("a,b\nc,d");
        Assert.Single(Csv.Records(new MemoryStream(bytes)));
        Assert.Equal(["c", "d"], Csv.Records(new MemoryStream(bytes), unterminated: true).Last().Fields);
    }
}
