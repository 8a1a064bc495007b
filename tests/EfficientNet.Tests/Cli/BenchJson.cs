using System.Text.Json;

namespace EfficientNet.Tests.Cli;

/// <summary>
/// What a bench verb's JSON must say about its own timing. Speed itself is measured side by side in bench/, not by
/// tests; here the figures must add up: at least one timed pass, a window at least as long as asked for, and images
/// per second equal to iterations x batch / seconds (relative 1e-9: the JSON carries doubles at full precision).
/// </summary>
internal static class BenchJson
{
    public static void AssertThroughputAddsUp(JsonElement json, double requestedSeconds)
    {
        int iterations = json.GetProperty("iterations").GetInt32();
        double seconds = json.GetProperty("seconds").GetDouble();
        int batch = json.GetProperty("batch").GetInt32();
        double imagesPerSecond = json.GetProperty("imagesPerSecond").GetDouble();

        Assert.True(iterations >= 1, $"{iterations} timed iterations");
        Assert.True(seconds >= requestedSeconds, $"timed {seconds} s of the {requestedSeconds} s asked for");
        double expected = iterations * batch / seconds;
        Assert.True(Math.Abs(imagesPerSecond - expected) <= 1e-9 * expected, $"{imagesPerSecond} images/s, but {iterations} x {batch} / {seconds} s = {expected}");
    }
}
