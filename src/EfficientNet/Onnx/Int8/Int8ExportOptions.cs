namespace EfficientNet.Onnx;

/// <summary>How activation ranges are chosen from the calibration images.</summary>
public enum CalibrationMethod
{
    /// <summary>
    /// Clip each tensor at the <see cref="Int8ExportOptions.Percentile"/>th percentile of its absolute values
    /// (never beyond the values seen): the rare outliers EfficientNet's activations have no longer stretch the
    /// 256 levels over a range that holds almost no values.
    /// </summary>
    Percentile,

    /// <summary>
    /// The smallest and largest value seen. Offered to compare against: on EfficientNet it loses tens of
    /// points of accuracy (the accuracy check then refuses the file).
    /// </summary>
    MinMax,
}

/// <summary>
/// How <see cref="OnnxExporter.ExportInt8"/> quantizes: unsigned 8-bit activations per tensor, signed
/// per-channel weights of <see cref="WeightBits"/> bits, ranges from <see cref="CalibrationImages"/> images,
/// checked on the next <see cref="CheckImages"/> against the float model.
/// </summary>
public sealed record Int8ExportOptions
{
    /// <summary>Bits of the signed, symmetric, per-output-channel weights: 7 (the default) or 8.</summary>
    /// <remarks>
    /// x86 CPUs without VNNI multiply u8 activations by s8 weights with an instruction (vpmaddubsw) whose 16-bit
    /// sums saturate at 8-bit weights; 7-bit weights cannot. Choose 8 for CPUs with VNNI or for ARM.
    /// </remarks>
    public int WeightBits { get; init; } = 7;

    /// <summary>How activation ranges are chosen.</summary>
    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.Percentile;

    /// <summary>The percentile of absolute values a tensor's range is clipped at, with <see cref="CalibrationMethod.Percentile"/>.</summary>
    public double Percentile { get; init; } = 99.99;

    /// <summary>Images whose activations set the ranges (the first ones given).</summary>
    public int CalibrationImages { get; init; } = 500;

    /// <summary>
    /// Images after the calibration images on which the INT8 model is compared with the float model (agreement of
    /// the top class, and accuracy when the images are labelled); the export stops when fewer are left. Zero, and only
    /// zero, skips the check (the file's metadata then says it was not checked).
    /// </summary>
    public int CheckImages { get; init; } = 500;

    /// <summary>
    /// The most top-1 accuracy the INT8 model may lose on the check images, in percentage points; with
    /// unlabelled images, the most images (in percent) on which its top class may differ from the float model's.
    /// More, and nothing is written.
    /// </summary>
    public double MaxDrop { get; init; } = 1.0;

    /// <summary>ONNX Runtime's intra-op threads for the calibration and the check (0: its default, one per physical core).</summary>
    public int Threads { get; init; }
}

/// <summary>What an INT8 export measured on its check images.</summary>
/// <param name="CalibrationImages">Images the ranges came from.</param>
/// <param name="CheckImages">Held-back images the INT8 model was compared on.</param>
/// <param name="Agreement">Share of check images on which the INT8 and float models' top class agree; null when not checked.</param>
/// <param name="FloatAccuracy">Top-1 accuracy of the float model on the check images; null when they are unlabelled.</param>
/// <param name="Int8Accuracy">Top-1 accuracy of the INT8 model on the check images; null when they are unlabelled.</param>
/// <param name="Options">The options it ran with.</param>
public sealed record Int8Report(int CalibrationImages, int CheckImages, double? Agreement, double? FloatAccuracy, double? Int8Accuracy, Int8ExportOptions Options)
{
    /// <summary>
    /// Percentage points lost: of top-1 accuracy when the check images are labelled, else the percentage of
    /// check images whose top class changed; 0 without check images.
    /// </summary>
    public double Drop => Agreement is not double agreement ? 0
        : FloatAccuracy is double f && Int8Accuracy is double q ? 100 * (f - q)
        : 100 * (1 - agreement);
}
