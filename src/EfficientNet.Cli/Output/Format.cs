using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EfficientNet.Cli.Output;

/// <summary>Number formatting and JSON output shared by the verbs.</summary>
internal static class Format
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static void WriteJson<T>(TextWriter writer, T value) => writer.WriteLine(JsonSerializer.Serialize(value, Json));

    /// <summary>1234567 as "1,234,567".</summary>
    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>Multiply-accumulates in billions, e.g. "0.386".</summary>
    public static string GMacs(long macs) => (macs / 1e9).ToString(macs < 10e9 ? "0.000" : "0.0", CultureInfo.InvariantCulture);

    public static string Fixed(double value, int decimals) => value.ToString("F" + decimals, CultureInfo.InvariantCulture);

    /// <summary>A duration as a clock shows it: m:ss under an hour, else h:mm:ss (hours past 24 included).</summary>
    public static string Duration(TimeSpan time) =>
        time.TotalHours >= 1 ? $"{(int)time.TotalHours}:{time:mm\\:ss}" : time.ToString("m\\:ss", CultureInfo.InvariantCulture);

    public static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
