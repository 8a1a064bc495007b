using System.Globalization;
using System.Text.Json;
using EfficientNet.Imaging;
using EfficientNet.Models;
using EfficientNet.Onnx;
using EfficientNet.Weights;

namespace EfficientNet.Inference;

/// <summary>
/// What a classifier is and what it expects: variant, class names, resolution and the preprocessing the
/// weights were trained with. An ONNX export carries it in <c>metadata_props</c> (<see cref="ToMetadata"/>),
/// so that any consumer can classify with the file without this library. Values are strings; lists are
/// JSON arrays.
/// </summary>
/// <param name="Variant">Registry name of the variant, e.g. "b0".</param>
/// <param name="Model">Human description, e.g. "EfficientNet-B0 (CIFAR stem), linear head, 10 classes".</param>
/// <param name="NumClasses">Rows of the output.</param>
/// <param name="ClassNames">Class names in output order, when known.</param>
/// <param name="Preprocessing">Resize, centre crop (the input resolution), interpolation, mean and std.</param>
/// <param name="PreprocessingInGraph">True when the graph takes uint8 RGB images and does the scaling and normalisation itself.</param>
/// <param name="SourceSha256">SHA-256 of the weights file the model was exported from, when it came from a file.</param>
public sealed record ClassifierInfo(
    string Variant,
    string Model,
    int NumClasses,
    IReadOnlyList<string>? ClassNames,
    Preprocessing Preprocessing,
    bool PreprocessingInGraph,
    string? SourceSha256)
{
    private const string FormatKey = "efficientnet.format";
    private const string FormatVersion = "1";

    /// <summary>The input resolution (the centre crop's side).</summary>
    public int Resolution => Preprocessing.CropSize;

    /// <summary>
    /// The description of <paramref name="model"/>; <paramref name="preprocessing"/> defaults to the model's
    /// resolution with ImageNet statistics.
    /// </summary>
    public static ClassifierInfo For(EfficientNetModel model, IReadOnlyList<string>? classNames = null, Preprocessing? preprocessing = null, string? sourceSha256 = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        string description = $"{model.Spec.DisplayName}{(model.Options.CifarStem ? " (CIFAR stem)" : "")}, {model.Options.Head.ToString().ToLowerInvariant()} head, {model.NumClasses} classes";
        var info = new ClassifierInfo(model.Spec.Name, description, model.NumClasses, null,
            preprocessing ?? Preprocessing.ForResolution(model.Resolution), PreprocessingInGraph: false, sourceSha256);
        return classNames is null ? info : info.WithLabels(classNames);
    }

    /// <summary>
    /// What a weights file's model expects: a checkpoint's recorded normalisation, or the preset of an
    /// official torchvision file recognised by its published hash, or the model's resolution with
    /// <paramref name="defaultNormalization"/> (ImageNet when null). Only files without a recorded
    /// normalisation are hashed (to look them up); <paramref name="recordSha256"/> hashes every file and
    /// records the digest (an export's provenance).
    /// </summary>
    public static ClassifierInfo FromWeights(string path, LoadedModel loaded, Normalization? defaultNormalization = null, bool recordSha256 = false)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        string? sha256 = loaded.Normalization is null || recordSha256 ? PretrainedRegistry.Sha256(path) : null;
        var official = loaded.Normalization is null ? PretrainedRegistry.Identify(sha256!) : null;
        var preprocessing = official is not null && official.Variant == loaded.Model.Spec.Name
            ? official.Preprocessing
            : Preprocessing.ForResolution(loaded.Model.Resolution, loaded.Normalization ?? defaultNormalization);
        return For(loaded.Model, loaded.ClassNames, preprocessing, recordSha256 ? sha256 : null);
    }

    /// <summary>The same description with other class names (one per class).</summary>
    public ClassifierInfo WithLabels(IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count != NumClasses)
        {
            throw new EfficientNetException($"{labels.Count} labels given for a model with {NumClasses} classes");
        }
        return this with { ClassNames = labels };
    }

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
        new("input", PreprocessingInGraph ? $"{OnnxExporter.ImageName}: uint8 [batch, H, W, 3] RGB" : $"{OnnxExporter.InputName}: float32 [batch, 3, H, W] normalised"),
        new("output", PreprocessingInGraph ? $"{OnnxExporter.ProbabilitiesName}: float32 [batch, classes]" : $"{OnnxExporter.LogitsName}: float32 [batch, classes]"),
        new("preprocessing_in_graph", PreprocessingInGraph ? "true" : "false"),
        new("source_sha256", SourceSha256 ?? ""),
    ];

    /// <summary>
    /// Reads the description back from an exported file's metadata; a file this library did not export
    /// (or that lost its metadata) is rejected with what was expected.
    /// </summary>
    public static ClassifierInfo FromMetadata(IReadOnlyDictionary<string, string> metadata, string path)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue(FormatKey, out string? format))
        {
            throw new EfficientNetException(
                $"'{path}' has no {FormatKey} metadata: it was not exported by OnnxExporter.Export, so its class names and preprocessing are unknown; export the model with OnnxExporter.Export");
        }
        if (format != FormatVersion)
        {
            throw new EfficientNetException($"'{path}' has metadata format {format}; this version reads format {FormatVersion}");
        }
        string Get(string key) => metadata.TryGetValue(key, out string? value)
            ? value
            : throw new EfficientNetException($"'{path}' lacks the '{key}' metadata entry that OnnxExporter.Export writes; export the model again");
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
            int classes = int.Parse(Get("num_classes"), CultureInfo.InvariantCulture);
            var classNames = JsonSerializer.Deserialize<string[]?>(Get("class_names"));
            if (classNames is not null && classNames.Length != classes)
            {
                throw new EfficientNetException($"'{path}' metadata lists {classNames.Length} class names for {classes} classes; export the model again");
            }
            return new ClassifierInfo(
                Get("variant"),
                Get("model"),
                classes,
                classNames,
                preprocessing,
                Get("preprocessing_in_graph") == "true",
                sha.Length == 0 ? null : sha);
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException or OverflowException)
        {
            throw new EfficientNetException($"'{path}' has malformed EfficientNet.NET metadata: {e.Message}", e);
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
