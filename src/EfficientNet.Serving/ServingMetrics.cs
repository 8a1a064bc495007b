using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using System.Text;
using EfficientNet.Imaging;

namespace EfficientNet.Serving;

/// <summary>The server's counters in Prometheus's text exposition format: requests, latency, batch sizes, queue depth, what runs.</summary>
internal sealed class ServingMetrics(string model, string engine, int threads, int workers)
{
    private static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128];

    private readonly ConcurrentDictionary<(string Route, int Status), long> requests = new();
    private readonly Histogram latency = new(LatencyBuckets);
    private readonly Histogram batches = new(BatchBuckets);

    /// <summary>Images waiting for a forward pass.</summary>
    public int QueueDepth { get; set; }

    /// <summary>Batches run so far.</summary>
    public long BatchCount => batches.Count;

    public void Request(string route, int status, double seconds)
    {
        requests.AddOrUpdate((route, status), 1, (_, n) => n + 1);
        latency.Observe(seconds);
    }

    public void Batch(int images) => batches.Observe(images);

    public string Text()
    {
        var text = new StringBuilder();
        text.Append("# HELP effnet_info The served model, its engine, threads (0: the engine's default) and workers (batches run at once), the CPU they run on, and the JPEG decoder.\n# TYPE effnet_info gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"effnet_info{{model=\"{Escape(model)}\",engine=\"{engine}\",threads=\"{threads}\",workers=\"{workers}\",{Cpu},{Jpeg}}} 1\n");
        text.Append("# HELP effnet_requests_total Requests answered, by route and status.\n# TYPE effnet_requests_total counter\n");
        foreach (var ((route, status), count) in requests.OrderBy(r => r.Key.Route, StringComparer.Ordinal).ThenBy(r => r.Key.Status))
        {
            text.Append(CultureInfo.InvariantCulture, $"effnet_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}\n");
        }
        latency.Write(text, "effnet_request_seconds", "Time from a request's arrival to its answer.");
        batches.Write(text, "effnet_batch_size", "Images per forward pass.");
        text.Append("# HELP effnet_queue_depth Images waiting for a forward pass.\n# TYPE effnet_queue_depth gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"effnet_queue_depth {QueueDepth}\n");
        return text.ToString();
    }

    // A label value as the text format writes it: backslash, double quote and line feed escaped.
    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    // The CPU's labels: its model name (Linux's /proc/cpuinfo), the widest vector instructions .NET sees, its logical cores.
    private static readonly string Cpu = $"cpu=\"{Escape(CpuModel())}\",isa=\"{VectorInstructions()}\",cores=\"{Environment.ProcessorCount}\"";

    // Which library decodes JPEG uploads (ImageDecoder.UsesTurboJpeg).
    private static readonly string Jpeg = $"jpeg=\"{(ImageDecoder.UsesTurboJpeg ? "turbojpeg" : "skiasharp")}\"";

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(line => line.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
                ?? RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (UnauthorizedAccessException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    // The widest vector instructions, and "+vnni" with the 8-bit dot products (VEX-encoded, what .NET reports) that INT8 models use.
    private static string VectorInstructions() =>
        (Avx512F.IsSupported ? "avx512" : Avx2.IsSupported ? "avx2" : Sse41.IsSupported ? "sse4.1" : AdvSimd.IsSupported ? "neon" : "none")
        + (AvxVnni.IsSupported ? "+vnni" : "");

    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] counts = new long[bounds.Length + 1];
        private readonly Lock gate = new();
        private double sum;

        public long Count
        {
            get
            {
                lock (gate)
                {
                    return counts.Sum();
                }
            }
        }

        public void Observe(double value)
        {
            lock (gate)
            {
                int i = Array.FindIndex(bounds, b => value <= b);
                counts[i < 0 ? bounds.Length : i]++;
                sum += value;
            }
        }

        public void Write(StringBuilder text, string name, string help)
        {
            lock (gate)
            {
                text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} histogram\n");
                long cumulative = 0;
                for (int i = 0; i < bounds.Length; i++)
                {
                    cumulative += counts[i];
                    text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"{bounds[i]}\"}} {cumulative}\n");
                }
                cumulative += counts[^1];
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"+Inf\"}} {cumulative}\n{name}_sum {sum}\n{name}_count {cumulative}\n");
            }
        }
    }
}
