using EfficientNet.Runtime;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace EfficientNet.Onnx;

/// <summary>A float range [<see cref="Low"/>, <see cref="High"/>] that holds zero, to map onto 256 unsigned levels.</summary>
internal readonly record struct ActivationRange(float Low, float High)
{
    /// <summary>The step between levels (1 for a tensor that was always zero).</summary>
    public float Scale => High > Low ? (High - Low) / 255f : 1f;

    /// <summary>The level that stands for 0.</summary>
    public byte ZeroPoint => (byte)Math.Clamp(Math.Round(-Low / Scale), 0, 255);
}

/// <summary>
/// Runs the float graph in ONNX Runtime over calibration images with every tensor to be quantized as an extra
/// output, keeps a histogram of each tensor's absolute values, and turns it into a range
/// (<see cref="CalibrationMethod"/>).
/// </summary>
internal sealed class ActivationCalibration : IDisposable
{
    private readonly InferenceSession session;
    private readonly RunOptions runOptions = new();
    private readonly string input;
    private readonly string[] outputs;
    private readonly Dictionary<string, TensorHistogram> histograms;

    public ActivationCalibration(ModelProto graph, string input, IReadOnlyList<string> tensors, int threads)
    {
        var augmented = graph.Clone();
        this.input = input;
        outputs = [.. tensors.Where(t => t != input)];
        foreach (string tensor in outputs)
        {
            augmented.Graph.Output.Add(new ValueInfoProto
            {
                Name = tensor,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }
        histograms = tensors.ToDictionary(t => t, _ => new TensorHistogram());
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC,
            IntraOpNumThreads = IntraOpThreads.Bound(threads, out _),
            InterOpNumThreads = 1,
        };
        session = new InferenceSession(augmented.ToByteArray(), options);
    }

    /// <summary>Runs one batch of normalised images (N, 3, H, W) and adds every tensor's values to its histogram.</summary>
    public void Add(float[] images, long[] shape)
    {
        if (histograms.TryGetValue(input, out var inputHistogram))
        {
            inputHistogram.Add(images);
        }
        using var value = OrtValue.CreateTensorValueFromMemory(images, shape);
        using var results = session.Run(runOptions, [input], [value], outputs);
        for (int i = 0; i < outputs.Length; i++)
        {
            histograms[outputs[i]].Add(results[i].GetTensorDataAsSpan<float>());
        }
    }

    /// <summary>Each tensor's range by <paramref name="method"/>.</summary>
    public Dictionary<string, ActivationRange> Ranges(CalibrationMethod method, double percentile) =>
        histograms.ToDictionary(kv => kv.Key, kv => kv.Value.Range(method, percentile));

    public void Dispose()
    {
        runOptions.Dispose();
        session.Dispose();
    }
}

/// <summary>
/// The smallest and largest value of a tensor over all batches, and a histogram of its absolute values in
/// <see cref="Bins"/> equal bins from 0; when a batch holds a larger value, neighbouring bins merge (the width
/// doubles) until it fits, so counts are never re-estimated.
/// </summary>
internal sealed class TensorHistogram
{
    public const int Bins = 2048;

    private readonly long[] counts = new long[Bins];
    private double width;
    private long total;
    private float min = float.PositiveInfinity;
    private float max = float.NegativeInfinity;

    public void Add(ReadOnlySpan<float> values)
    {
        float low = float.PositiveInfinity, high = float.NegativeInfinity;
        foreach (float v in values)
        {
            low = MathF.Min(low, v);
            high = MathF.Max(high, v);
        }
        if (values.IsEmpty)
        {
            return;
        }
        if (float.IsNaN(low) || float.IsNaN(high) || float.IsInfinity(low) || float.IsInfinity(high))
        {
            throw new EfficientNetException("the float model computed NaN or infinite activations on a calibration image; its weights are broken");
        }
        min = MathF.Min(min, low);
        max = MathF.Max(max, high);
        Fit(Math.Max(-low, high));
        double perWidth = width > 0 ? 1 / width : 0;
        foreach (float v in values)
        {
            counts[Math.Min((int)(Math.Abs(v) * perWidth), Bins - 1)]++;
        }
        total += values.Length;
    }

    // Widens the bins until the largest absolute value lies inside them.
    private void Fit(double largest)
    {
        if (width == 0)
        {
            // The first non-zero batch sets the width, with room for rounding at the top edge.
            width = largest * 1.0001 / Bins;
            return;
        }
        while (largest >= width * Bins)
        {
            for (int i = 0; i < Bins / 2; i++)
            {
                counts[i] = counts[2 * i] + counts[(2 * i) + 1];
            }
            Array.Clear(counts, Bins / 2, Bins / 2);
            width *= 2;
        }
    }

    public ActivationRange Range(CalibrationMethod method, double percentile)
    {
        if (total == 0)
        {
            throw new InvalidOperationException("no values were added");
        }
        float low = min, high = max;
        if (method == CalibrationMethod.Percentile)
        {
            float clip = (float)(AbsolutePercentile(percentile) * (1 + 1e-6));
            low = Math.Max(low, -clip);
            high = Math.Min(high, clip);
        }
        return new ActivationRange(Math.Min(low, 0), Math.Max(high, 0));
    }

    // The upper edge of the bin where the cumulative count reaches the percentile.
    private double AbsolutePercentile(double percentile)
    {
        double target = percentile / 100 * total;
        long cumulative = 0;
        for (int i = 0; i < Bins; i++)
        {
            cumulative += counts[i];
            if (cumulative >= target)
            {
                return (i + 1) * width;
            }
        }
        return Bins * width;
    }
}
