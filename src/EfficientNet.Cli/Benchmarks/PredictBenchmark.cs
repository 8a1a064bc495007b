using System.Diagnostics;
using EfficientNet.Inference;

namespace EfficientNet.Cli.Benchmarks;

/// <summary>Latencies of whole <see cref="Classifier.Predict(string, int)"/> calls on one image.</summary>
/// <param name="Calls">Timed calls.</param>
/// <param name="Seconds">Timed seconds.</param>
/// <param name="MedianMilliseconds">The median call.</param>
/// <param name="MeanMilliseconds">The mean call.</param>
internal sealed record PredictBenchmarkResult(int Calls, double Seconds, double MedianMilliseconds, double MeanMilliseconds);

/// <summary>
/// Times <see cref="Classifier.Predict(string, int)"/> on one image: the file read and decoded, resized, cropped and
/// normalised, one forward pass at batch 1 and the top classes, as an application classifying one image at a time
/// runs it; the in-process counterpart of one request to <c>effnet serve</c>. Not a unit test: it reports what it sees.
/// </summary>
internal static class PredictBenchmark
{
    /// <summary>Untimed calls first (ONNX Runtime's first-run planning, the allocator).</summary>
    private const int WarmupCalls = 3;

    public static PredictBenchmarkResult Run(Classifier classifier, string image, double seconds)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        if (seconds <= 0)
        {
            throw new EfficientNetException($"--seconds must be positive, got {seconds}");
        }
        for (int i = 0; i < WarmupCalls; i++)
        {
            classifier.Predict(image);
        }
        var calls = new List<double>();
        var total = Stopwatch.StartNew();
        while (calls.Count == 0 || total.Elapsed.TotalSeconds < seconds)
        {
            long start = Stopwatch.GetTimestamp();
            classifier.Predict(image);
            calls.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        double elapsed = total.Elapsed.TotalSeconds;
        calls.Sort();
        double median = calls.Count % 2 == 1 ? calls[calls.Count / 2] : (calls[calls.Count / 2 - 1] + calls[calls.Count / 2]) / 2;
        return new PredictBenchmarkResult(calls.Count, elapsed, median, calls.Average());
    }
}
