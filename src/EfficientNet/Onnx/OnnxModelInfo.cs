using System.Globalization;
using System.Text.Json;
using EfficientNet.Data;
using EfficientNet.Imaging;

namespace EfficientNet.Onnx;

/// <summary>
/// What an exported ONNX file says about its model in <c>metadata_props</c>, so that any consumer can
/// classify with it without this library: variant, class names, resolution and the preprocessing the
/// weights expect. Values are strings; lists are JSON arrays.
/// </summary>
/// <param name="Variant">Registry name of the variant, e.g. "b0".</param>
/// <param name="Model">Human description, e.g. "EfficientNet-B0 (CIFAR stem), 10 classes".</param>
/// <param name="NumClasses">Rows of the output.</param>
/// <param name="ClassNames">Class names in output order, when known.</param>
/// <param name="Preprocessing">Resize, centre crop (the input resolution), interpolation, mean and std.</param>
/// <param name="PreprocessingInGraph">True when the graph takes uint8 RGB images and does the scaling and normalisation itself.</param>
/// <param name="SourceSha256">SHA-256 of the weights file the model was exported from, when it came from a file.</param>
public sealed record OnnxModelInfo(
    string Variant,
    string Model,
    int NumClasses,
    IReadOnlyList<string>? ClassNames,
    Preprocessing Preprocessing,
    bool PreprocessingInGraph,
    string? SourceSha256)
{
    /// <summary>Name of the float input, (batch, 3, H, W) normalised as <see cref="Preprocessing"/> says.</summary>
    public const string InputName = "input";

    /// <summary>Name of the output of a plain export: (batch, classes) logits.</summary>
    public const string LogitsName = "logits";

    /// <summary>Name of the uint8 input of a <c>--preprocess</c> export: (batch, H, W, 3) RGB at the model's resolution.</summary>
    public const string ImageName = "image";

    /// <summary>Name of the output of a <c>--preprocess</c> export: (batch, classes) softmax probabilities.</summary>
    public const string ProbabilitiesName = "probabilities";

    private const string FormatKey = "efficientnet.format";
    private const string FormatVersion = "1";

    /// <summary>The input resolution (the centre crop's side).</summary>
    public int Resolution => Preprocessing.CropSize;

    /// <summary>The metadata_props entries, in a stable order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ToMetadata() =>
    [
        new(FormatKey, FormatVersion),
        new("variant", Variant),
        new("model", Model),
        new("num_classes", Text(NumClasses)),
        new("class_names", JsonSerializer.Serialize(ClassNames)),
        new("resolution", Text(Resolution)),
        new("resize", Text(Preprocessing.ResizeSize)),
        new("crop", Text(Preprocessing.CropSize)),
        new("interpolation", Preprocessing.Interpolation.ToString().ToLowerInvariant()),
        new("mean", JsonSerializer.Serialize(Preprocessing.Normalization.Mean)),
        new("std", JsonSerializer.Serialize(Preprocessing.Normalization.Std)),
        new("input", PreprocessingInGraph ? $"{ImageName}: uint8 [batch, H, W, 3] RGB" : $"{InputName}: float32 [batch, 3, H, W] normalised"),
        new("output", PreprocessingInGraph ? $"{ProbabilitiesName}: float32 [batch, classes]" : $"{LogitsName}: float32 [batch, classes]"),
        new("preprocessing_in_graph", PreprocessingInGraph ? "true" : "false"),
        new("source_sha256", SourceSha256 ?? ""),
    ];

    /// <summary>
    /// Reads the description back from an exported file's metadata; a file this library did not export
    /// (or that lost its metadata) is rejected with what was expected.
    /// </summary>
    public static OnnxModelInfo FromMetadata(IReadOnlyDictionary<string, string> metadata, string path)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue(FormatKey, out string? format))
        {
            throw new EfficientNetException(
                $"'{path}' has no {FormatKey} metadata: it was not exported by effnet export, so its class names and preprocessing are unknown; export the model with effnet export");
        }
        if (format != FormatVersion)
        {
            throw new EfficientNetException($"'{path}' has metadata format {format}; this version reads format {FormatVersion}");
        }
        string Get(string key) => metadata.TryGetValue(key, out string? value)
            ? value
            : throw new EfficientNetException($"'{path}' lacks the '{key}' metadata entry that effnet export writes; export the model again");
        try
        {
            var normalization = new Normalization(
                JsonSerializer.Deserialize<float[]>(Get("mean"))!,
                JsonSerializer.Deserialize<float[]>(Get("std"))!);
            var preprocessing = new Preprocessing(
                int.Parse(Get("resize"), CultureInfo.InvariantCulture),
                int.Parse(Get("crop"), CultureInfo.InvariantCulture),
                normalization,
                Enum.Parse<Interpolation>(Get("interpolation"), ignoreCase: true));
            string sha = Get("source_sha256");
            return new OnnxModelInfo(
                Get("variant"),
                Get("model"),
                int.Parse(Get("num_classes"), CultureInfo.InvariantCulture),
                JsonSerializer.Deserialize<string[]?>(Get("class_names")),
                preprocessing,
                Get("preprocessing_in_graph") == "true",
                sha.Length == 0 ? null : sha);
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException or OverflowException)
        {
            throw new EfficientNetException($"'{path}' has malformed effnet metadata: {e.Message}", e);
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
