using EfficientNet.Architecture;
using EfficientNet.Imaging;
using EfficientNet.Models;
using EfficientNet.Weights.Formats;

namespace EfficientNet.Weights;

/// <summary>A model rebuilt from a weights file.</summary>
/// <param name="Model">The model, in training mode as built; call <c>eval()</c> for inference.</param>
/// <param name="ClassNames">Class names stored in the checkpoint, if any.</param>
/// <param name="Normalization">Input normalisation recorded in the checkpoint, if any.</param>
public sealed record LoadedModel(EfficientNetModel Model, IReadOnlyList<string>? ClassNames, Normalization? Normalization) : IDisposable
{
    /// <summary>The file's format.</summary>
    internal WeightsFormat Format { get; init; }

    /// <summary>Disposes the model.</summary>
    public void Dispose() => Model.Dispose();
}

/// <summary>What to build when loading weights; every field is optional for this library's checkpoints.</summary>
public sealed record LoadOptions
{
    /// <summary>The variant. Required for plain state dicts; for checkpoints it must match the stored one.</summary>
    public string? Variant { get; init; }

    /// <summary>Class count of the model to build; by default the file's (its classifier's rows).</summary>
    public int? NumClasses { get; init; }

    /// <summary>Drop the file's classifier, keeping a fresh head for <see cref="NumClasses"/> classes.</summary>
    public bool SkipClassifier { get; init; }

    /// <summary>Build the CIFAR (stride-1 stem) variant; ignored for checkpoints, which record it.</summary>
    public bool CifarStem { get; init; }
}

/// <summary>
/// The one way to turn a weights file into a model: this library's checkpoints describe themselves;
/// torchvision-layout state dicts (<c>.pth</c> or <c>.safetensors</c>) need the variant.
/// </summary>
public static class ModelLoader
{
    private const string ClassifierPrefix = "classifier.";
    private const string ClassifierWeight = "classifier.1.weight";

    /// <summary>The error for a plain state dict (no model description) read without a variant: which variants there are.</summary>
    internal static EfficientNetException VariantNeeded(string path) =>
        new($"'{path}' is a plain state dict without a model description; say which variant it is with LoadOptions.Variant ({string.Join(", ", Variants.Names)})");

    /// <summary>Reads <paramref name="path"/> and builds the model it holds.</summary>
    /// <exception cref="EfficientNetException">Missing or corrupt file, wrong variant, or weights that do not fit.</exception>
    public static LoadedModel Load(string path, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        using var file = WeightsFile.Read(path);
        var info = ModelCheckpoint.ReadInfo(file);
        VariantSpec spec;
        EfficientNetOptions buildOptions;
        if (info is not null)
        {
            spec = Variants.Get(info.Variant);
            if (options.Variant is not null && Variants.Get(options.Variant).Name != spec.Name)
            {
                throw new EfficientNetException(
                    $"'{path}' is a checkpoint of {spec.Name}, not {Variants.Get(options.Variant).Name}; set LoadOptions.Variant to {spec.Name} or leave it out");
            }
            buildOptions = info.Options;
        }
        else
        {
            if (options.Variant is null)
            {
                throw VariantNeeded(path);
            }
            spec = Variants.Get(options.Variant);
            int? fileClasses = file.Tensors.TryGetValue(ClassifierWeight, out var w) && w.ndim == 2 ? (int)w.shape[0] : null;
            buildOptions = new EfficientNetOptions { NumClasses = fileClasses ?? 1000, CifarStem = options.CifarStem };
        }

        if (options.NumClasses is int classes && !options.SkipClassifier && classes != buildOptions.NumClasses)
        {
            throw new EfficientNetException(
                $"'{path}' has {buildOptions.NumClasses} classes, not {classes}; skip its classifier (LoadOptions.SkipClassifier) to get a new {classes}-class head");
        }
        if (options.SkipClassifier)
        {
            buildOptions = buildOptions with { NumClasses = options.NumClasses ?? buildOptions.NumClasses };
        }

        var model = new EfficientNetModel(spec, buildOptions);
        try
        {
            StateDictLoader.Load(
                model,
                file.Tensors.Where(kv => !kv.Key.StartsWith(ModelCheckpoint.ExtraTensorPrefix, StringComparison.Ordinal)).ToDictionary(),
                path,
                $"{spec.DisplayName}{(model.Options.CifarStem ? " (CIFAR stem)" : "")} with {model.NumClasses} classes",
                options.SkipClassifier ? ClassifierPrefix : null);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new LoadedModel(model, options.SkipClassifier ? null : info?.ClassNames, info?.Normalization) { Format = file.Format };
    }
}
