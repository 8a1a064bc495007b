using System.Globalization;
using System.Text.Json;
using EfficientNet.Inference.Engines;
using EfficientNet.Inference;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace EfficientNet.Onnx;

/// <summary>
/// Calibrates, rewrites and checks an INT8 export (<see cref="OnnxExporter.ExportInt8"/>): the float graph's
/// activation ranges come from the first <see cref="Int8ExportOptions.CalibrationImages"/> images; the QDQ
/// graph (<see cref="QdqRewriter"/>) then runs beside the float graph in ONNX Runtime on the next
/// <see cref="Int8ExportOptions.CheckImages"/>, and the accuracy gate decides.
/// </summary>
internal static class Int8Quantization
{
    /// <summary>The metadata entry that describes the quantization.</summary>
    public const string MetadataKey = "quantization";

    private sealed record Batch(float[] Images, long[] Shape, long[]? Labels);

    public static (byte[] Model, Int8Report Report) Quantize(OnnxExporter.BuiltModel plain, OnnxExporter.BuiltModel exported, Int8ExportOptions options, IEnumerable<(Tensor Images, Tensor? Labels)> images)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(images);
        Validate(options);
        var tensors = QdqRewriter.QuantizedTensors(plain.Model.Graph, plain.FloatInput, plain.Logits);
        var check = new List<Batch>();
        int calibrated = 0;
        Dictionary<string, ActivationRange> ranges;
        using (var calibration = new ActivationCalibration(plain.Model, plain.FloatInput, tensors, options.Threads))
        {
            foreach (var batch in Batches(images, options.CalibrationImages + options.CheckImages))
            {
                int calibrate = (int)Math.Min(batch.Shape[0], options.CalibrationImages - calibrated);
                if (calibrate > 0)
                {
                    var part = Slice(batch, 0, calibrate);
                    calibration.Add(part.Images, part.Shape);
                    calibrated += calibrate;
                }
                if (calibrate < batch.Shape[0])
                {
                    check.Add(Slice(batch, calibrate, (int)batch.Shape[0] - calibrate));
                }
            }
            if (calibrated < options.CalibrationImages)
            {
                throw new EfficientNetException(
                    $"Int8ExportOptions.CalibrationImages is {options.CalibrationImages}, but only {calibrated} images were given; give more images or lower it");
            }
            int left = check.Sum(b => (int)b.Shape[0]);
            if (left < options.CheckImages)
            {
                // The gate runs on as many images as asked, or the export stops: never a file that claims a check it did not get.
                throw new EfficientNetException(
                    $"Int8ExportOptions.CheckImages is {options.CheckImages}, but only {left} images were left after the {calibrated} calibration images; " +
                    "give more images, or lower Int8ExportOptions.CalibrationImages or Int8ExportOptions.CheckImages (0 writes the model unchecked)");
            }
            ranges = calibration.Ranges(options.Calibration, options.Percentile);
        }
        var quantizedPlain = QdqRewriter.Rewrite(plain.Model, plain.FloatInput, plain.Logits, ranges, options.WeightBits);
        var report = Check(plain.Model, quantizedPlain, check, calibrated, options);
        if (report.Drop > options.MaxDrop)
        {
            string loss = report.FloatAccuracy is null
                ? $"changes the top class of {report.Drop.ToString("F2", CultureInfo.InvariantCulture)}% of"
                : $"loses {report.Drop.ToString("F2", CultureInfo.InvariantCulture)} points of top-1 accuracy on";
            throw new EfficientNetException(
                $"the INT8 model {loss} {report.CheckImages} held-back images ({Describe(report)}), more than Int8ExportOptions.MaxDrop {options.MaxDrop.ToString(CultureInfo.InvariantCulture)}; nothing was written");
        }
        ranges[exported.FloatInput] = ranges[plain.FloatInput];
        var quantized = ReferenceEquals(exported, plain) ? quantizedPlain : QdqRewriter.Rewrite(exported.Model, exported.FloatInput, exported.Logits, ranges, options.WeightBits);
        quantized.MetadataProps.Add(new StringStringEntryProto { Key = MetadataKey, Value = Metadata(report) });
        return (quantized.ToByteArray(), report);
    }

    private static void Validate(Int8ExportOptions options)
    {
        if (options.WeightBits is not (7 or 8))
        {
            throw new EfficientNetException($"Int8ExportOptions.WeightBits must be 7 or 8, got {options.WeightBits}");
        }
        if (options.Percentile is <= 50 or > 100 || double.IsNaN(options.Percentile))
        {
            throw new EfficientNetException($"Int8ExportOptions.Percentile must be above 50 and at most 100, got {options.Percentile}");
        }
        if (options.CalibrationImages <= 0)
        {
            throw new EfficientNetException($"Int8ExportOptions.CalibrationImages must be positive, got {options.CalibrationImages}");
        }
        if (options.CheckImages < 0)
        {
            throw new EfficientNetException($"Int8ExportOptions.CheckImages must be 0 or positive, got {options.CheckImages}");
        }
        if (options.MaxDrop < 0 || double.IsNaN(options.MaxDrop))
        {
            throw new EfficientNetException($"Int8ExportOptions.MaxDrop must be 0 or positive, got {options.MaxDrop}");
        }
        if (options.Threads < 0)
        {
            throw new EfficientNetException($"Int8ExportOptions.Threads must be 0 (the default) or positive, got {options.Threads}");
        }
    }

    // Managed copies of the caller's batches, until `count` images were taken.
    private static IEnumerable<Batch> Batches(IEnumerable<(Tensor Images, Tensor? Labels)> images, int count)
    {
        int taken = 0;
        foreach (var (batchImages, labels) in images)
        {
            if (taken >= count)
            {
                yield break;
            }
            if (batchImages.ndim != 4 || batchImages.shape[1] != 3)
            {
                throw new EfficientNetException($"calibration images must be (N, 3, H, W), got ({string.Join(", ", batchImages.shape)})");
            }
            int n = (int)Math.Min(batchImages.shape[0], count - taken);
            float[] pixels = new float[batchImages.numel()];
            OnnxRuntimeEngine.CopyInto(batchImages, pixels);
            long[]? classes = labels is null ? null : [.. labels.detach().cpu().to(int64).data<long>()];
            var batch = new Batch(pixels, [.. batchImages.shape], classes);
            taken += n;
            yield return n == batchImages.shape[0] ? batch : Slice(batch, 0, n);
        }
    }

    private static Batch Slice(Batch batch, int start, int count)
    {
        if (start == 0 && count == batch.Shape[0])
        {
            return batch;
        }
        int perImage = (int)(batch.Images.Length / batch.Shape[0]);
        long[] shape = [.. batch.Shape];
        shape[0] = count;
        return new Batch(batch.Images.AsSpan(start * perImage, count * perImage).ToArray(), shape, batch.Labels?[start..(start + count)]);
    }

    // Top-1 of the float and the INT8 graph on the held-back images.
    private static Int8Report Check(ModelProto floatModel, ModelProto quantized, List<Batch> check, int calibrated, Int8ExportOptions options)
    {
        int images = check.Sum(b => (int)b.Shape[0]);
        if (images == 0)
        {
            return new Int8Report(calibrated, 0, null, null, null, options);
        }
        using var floatEngine = OnnxRuntimeEngine.FromBytes(floatModel.ToByteArray(), "the float model", options.Threads);
        using var int8Engine = OnnxRuntimeEngine.FromBytes(quantized.ToByteArray(), "the INT8 model", options.Threads);
        bool labelled = check.All(b => b.Labels is not null);
        long agree = 0, floatRight = 0, int8Right = 0;
        foreach (var batch in check)
        {
            using var scope = NewDisposeScope();
            var input = tensor(batch.Images, batch.Shape);
            var floatTop = floatEngine.Logits(input).argmax(1);
            var int8Top = int8Engine.Logits(input).argmax(1);
            agree += floatTop.eq(int8Top).sum().item<long>();
            if (labelled)
            {
                var truth = tensor(batch.Labels!);
                floatRight += floatTop.eq(truth).sum().item<long>();
                int8Right += int8Top.eq(truth).sum().item<long>();
            }
        }
        return new Int8Report(calibrated, images, (double)agree / images,
            labelled ? (double)floatRight / images : null,
            labelled ? (double)int8Right / images : null,
            options);
    }

    private static string Describe(Int8Report report) =>
        report.FloatAccuracy is double f && report.Int8Accuracy is double q
            ? FormattableString.Invariant($"float {100 * f:F2}%, INT8 {100 * q:F2}%, top-1 agreement {100 * report.Agreement:F2}%")
            : FormattableString.Invariant($"top-1 agreement {100 * report.Agreement!.Value:F2}%");

    private static string Metadata(Int8Report report) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["format"] = "qdq",
        ["activations"] = "uint8, one scale and zero point per tensor",
        ["weights"] = $"int8 with {report.Options.WeightBits} bits, symmetric, one scale per output channel",
        ["calibration"] = report.Options.Calibration == CalibrationMethod.Percentile
            ? FormattableString.Invariant($"percentile {report.Options.Percentile}")
            : "minmax",
        ["calibration_images"] = report.CalibrationImages,
        ["check_images"] = report.CheckImages,
        ["agreement"] = report.Agreement,
        ["float_accuracy"] = report.FloatAccuracy,
        ["int8_accuracy"] = report.Int8Accuracy,
    });
}
