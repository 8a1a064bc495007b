using System.Diagnostics;
using EfficientNet.Data;
using EfficientNet.Imaging;
using EfficientNet.Runtime;

namespace EfficientNet.Cli.Benchmarks;

/// <summary>What <see cref="DataBenchmark.Run"/> measured.</summary>
/// <param name="Images">Images prepared in the timed part.</param>
/// <param name="Seconds">Length of the timed part.</param>
/// <param name="ImagesPerSecond">Images / seconds.</param>
/// <param name="Workers">Decoding threads.</param>
internal sealed record DataBenchmarkResult(int Images, double Seconds, double ImagesPerSecond, int Workers);

/// <summary>
/// Measures the streamed training input as training runs it: each batch's files read, decoded, random-resized-cropped,
/// flipped, resized and normalised by the loader, for as long as asked (bench/compare_data.py runs torchvision's
/// DataLoader on the same files beside it). Not a unit test: it reports what it sees.
/// </summary>
internal static class DataBenchmark
{
    public static DataBenchmarkResult Run(string data, int resolution, int batch, double seconds, int workers)
    {
        if (resolution is < Models.EfficientNetOptions.MinResolution or > Models.EfficientNetOptions.MaxResolution)
        {
            throw new EfficientNetException(
                $"the resolution must be between {Models.EfficientNetOptions.MinResolution} and {Models.EfficientNetOptions.MaxResolution} pixels, got {resolution}");
        }
        if (seconds <= 0 || workers < 0)
        {
            throw new EfficientNetException($"the seconds must be positive and ImageReading.Workers 0 (one per core) or positive, got {seconds} and {workers}");
        }
        var images = ImageFolder.Stream(data, resolution, null, SampleGeometry.RandomResizedCrop, workers);
        var loader = new DataLoader(images, new LoaderOptions(batch, Shuffle: true, DropLast: false, Seed: 1, Prefetch: 0), Normalization.ImageNet);
        using (loader.Prepare(0, 0))
        {
            // Warm-up: thread pool, decoder and allocator.
        }
        var clock = Stopwatch.StartNew();
        int count = 0;
        for (int epoch = 0; clock.Elapsed.TotalSeconds < seconds; epoch++)
        {
            foreach (var prepared in loader.Epoch(epoch))
            {
                using (prepared)
                {
                    count += prepared.Count;
                }
                if (clock.Elapsed.TotalSeconds >= seconds)
                {
                    break;
                }
            }
        }
        double elapsed = clock.Elapsed.TotalSeconds;
        return new DataBenchmarkResult(count, elapsed, count / elapsed, workers > 0 ? workers : Environment.ProcessorCount);
    }
}
