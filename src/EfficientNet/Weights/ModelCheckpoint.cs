using System.Text.Json;
using EfficientNet.Architecture;
using EfficientNet.IO;
using EfficientNet.Imaging;
using EfficientNet.Models;
using EfficientNet.Weights.Formats;
using static TorchSharp.torch;

namespace EfficientNet.Weights;

/// <summary>What a checkpoint says about the model it holds.</summary>
/// <param name="Variant">Registry name of the variant.</param>
/// <param name="Options">The resolved build options (class count, dropout, CIFAR stem, resolution).</param>
/// <param name="ClassNames">Names of the output classes, when known.</param>
/// <param name="Normalization">The input normalisation the model was trained with, when recorded.</param>
public sealed record CheckpointInfo(string Variant, EfficientNetOptions Options, IReadOnlyList<string>? ClassNames, Normalization? Normalization)
{
    /// <summary>Every metadata entry of the file, the extra ones <see cref="ModelCheckpoint.Save"/> was given included.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// This library's model checkpoints: a safetensors file in torchvision's key layout whose metadata
/// also describes the model (variant, options, class names), so it can be rebuilt without flags and
/// still read by PyTorch tools. Written atomically.
/// </summary>
public static class ModelCheckpoint
{
    /// <summary>Metadata keys.</summary>
    internal const string VersionKey = "efficientnet.version";
    internal const string VariantKey = "efficientnet.variant";
    internal const string OptionsKey = "efficientnet.options";
    internal const string ClassesKey = "efficientnet.classes";
    internal const string NormalizationKey = "efficientnet.normalization";

    /// <summary>Prefix of tensors that are not model weights (optimizer and trainer state in training checkpoints).</summary>
    public const string ExtraTensorPrefix = "trainer.";

    /// <summary>Version of the metadata layout; bumped on incompatible changes.</summary>
    public const string FormatVersion = "1";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// Saves <paramref name="model"/>'s state dict and description to <paramref name="path"/>, with
    /// optional extra metadata and extra tensors (named with <see cref="ExtraTensorPrefix"/>).
    /// </summary>
    public static void Save(
        EfficientNetModel model,
        string path,
        IReadOnlyList<string>? classNames = null,
        Normalization? normalization = null,
        IReadOnlyDictionary<string, string>? extraMetadata = null,
        IEnumerable<KeyValuePair<string, Tensor>>? extraTensors = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (classNames is not null && classNames.Count != model.NumClasses)
        {
            throw new EfficientNetException($"{classNames.Count} class names given for a model with {model.NumClasses} classes");
        }
        var metadata = new Dictionary<string, string>
        {
            // "format": "pt" lets safetensors.torch.load_file read the file in Python.
            ["format"] = "pt",
            [VersionKey] = FormatVersion,
            [VariantKey] = model.Spec.Name,
            [OptionsKey] = JsonSerializer.Serialize(model.Options, Json),
        };
        if (classNames is not null)
        {
            metadata[ClassesKey] = JsonSerializer.Serialize(classNames, Json);
        }
        if (normalization is not null)
        {
            metadata[NormalizationKey] = JsonSerializer.Serialize(normalization, Json);
        }
        foreach (var (key, value) in extraMetadata ?? new Dictionary<string, string>())
        {
            metadata[key] = value;
        }
        var extras = (extraTensors ?? []).ToList();
        if (extras.Any(kv => !kv.Key.StartsWith(ExtraTensorPrefix, StringComparison.Ordinal)))
        {
            throw new ArgumentException($"extra tensor names must start with '{ExtraTensorPrefix}'", nameof(extraTensors));
        }
        AtomicFile.Write(path, stream => SafetensorsFile.Write(stream, StateDict.Ordered(model).Concat(extras), metadata));
    }

    /// <summary>The model description in a file's metadata; null for a plain state dict (e.g. from torchvision).</summary>
    /// <exception cref="EfficientNetException">The metadata is present but unreadable or from a newer version.</exception>
    internal static CheckpointInfo? ReadInfo(WeightsFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return Parse(file.Metadata, file.Path);
    }

    /// <summary>The model description of the file at <paramref name="path"/>, read from its header only.</summary>
    /// <exception cref="EfficientNetException">The file is missing or not a weights file, or its description is unreadable.</exception>
    public static CheckpointInfo? ReadInfo(string path) => Parse(WeightsFile.ReadMetadata(path), path);

    /// <summary>
    /// Loads the weights of the checkpoint at <paramref name="path"/> into <paramref name="model"/>, which must be the
    /// model the file describes (same variant, class count and stem), and hands the extra tensors <see cref="Save"/>
    /// was given to <paramref name="readExtras"/> while they are alive; returns the file's description.
    /// </summary>
    /// <exception cref="EfficientNetException">The file is missing, corrupt, a plain state dict, or for another model.</exception>
    public static CheckpointInfo Load(string path, EfficientNetModel model, Action<IReadOnlyDictionary<string, Tensor>>? readExtras = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var file = WeightsFile.Read(path);
        var info = ReadInfo(file) ?? throw new EfficientNetException($"'{path}' is a plain state dict without a model description, not a checkpoint");
        if (info.Variant != model.Spec.Name || info.Options.NumClasses != model.NumClasses || info.Options.CifarStem != model.Options.CifarStem)
        {
            throw new EfficientNetException(
                $"'{path}' holds {info.Variant} with {info.Options.NumClasses} classes{(info.Options.CifarStem ? " (CIFAR stem)" : "")}, but the run builds {model.Spec.Name} with {model.NumClasses}");
        }
        var weights = file.Tensors.Where(kv => !kv.Key.StartsWith(ExtraTensorPrefix, StringComparison.Ordinal)).ToDictionary();
        StateDictLoader.Load(model, weights, path, model.Spec.DisplayName);
        readExtras?.Invoke(file.Tensors.Where(kv => kv.Key.StartsWith(ExtraTensorPrefix, StringComparison.Ordinal)).ToDictionary());
        return info;
    }

    private static CheckpointInfo? Parse(IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue(VariantKey, out var variant))
        {
            return null;
        }
        if (metadata.GetValueOrDefault(VersionKey) != FormatVersion)
        {
            throw new EfficientNetException(
                $"checkpoint '{path}' has format version '{metadata.GetValueOrDefault(VersionKey)}'; this build reads version {FormatVersion}");
        }
        try
        {
            var options = JsonSerializer.Deserialize<EfficientNetOptions>(metadata[OptionsKey], Json)
                ?? throw new JsonException("empty options");
            var classes = metadata.TryGetValue(ClassesKey, out var names)
                ? JsonSerializer.Deserialize<string[]>(names, Json)
                : null;
            var normalization = metadata.TryGetValue(NormalizationKey, out var norm)
                ? JsonSerializer.Deserialize<Normalization>(norm, Json)
                : null;
            return new CheckpointInfo(Variants.Get(variant).Name, options, classes, normalization) { Metadata = metadata };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException)
        {
            throw new EfficientNetException($"checkpoint '{path}' has a corrupt model description: {e.Message}", e);
        }
    }
}
