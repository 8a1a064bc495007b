using EfficientNet.Layers;
using EfficientNet.Weights.Formats;
using static TorchSharp.torch;

namespace EfficientNet.Weights;

/// <summary>A key whose tensor has one shape in the file and another in the model.</summary>
/// <param name="Key">State-dict key.</param>
/// <param name="FileShape">Shape in the weights file.</param>
/// <param name="ModelShape">Shape in the model.</param>
internal sealed record ShapeMismatch(string Key, long[] FileShape, long[] ModelShape)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Key}: file [{string.Join(", ", FileShape)}] vs model [{string.Join(", ", ModelShape)}]";
}

/// <summary>Weights that do not fit a model; lists every missing, unexpected and mis-shaped key.</summary>
public sealed class WeightsMismatchException : EfficientNetException
{
    /// <summary>Creates the exception with its full report.</summary>
    internal WeightsMismatchException(string message, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<ShapeMismatch> mismatched)
        : base(message)
    {
        Missing = missing;
        Unexpected = unexpected;
        Mismatched = mismatched;
    }

    /// <summary>Model keys absent from the file.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>File keys the model does not have.</summary>
    public IReadOnlyList<string> Unexpected { get; }

    /// <summary>Keys present in both with different shapes.</summary>
    internal IReadOnlyList<ShapeMismatch> Mismatched { get; }
}

/// <summary>
/// Copies a state dict into a module, strictly: every model key must be in the file with the same
/// shape and the file may hold nothing else, unless a prefix is skipped (e.g. the classifier, to put
/// a 1000-class backbone under a 10-class head), and every value must be finite. Nothing is copied unless everything fits. Layers whose
/// BatchNorm is folded for inference are folded again from the loaded weights.
/// </summary>
internal static class StateDictLoader
{
    private const int ShownPerList = 6;

    /// <summary>Loads <paramref name="source"/> into <paramref name="model"/>; returns how many tensors were copied.</summary>
    /// <param name="model">The module to fill.</param>
    /// <param name="source">Tensors by key (any device, convertible dtype).</param>
    /// <param name="describeSource">The file, for messages.</param>
    /// <param name="describeModel">The model, for messages, e.g. "EfficientNet-B0 (10 classes)".</param>
    /// <param name="skipPrefix">Keys starting with this are ignored on both sides (null: none).</param>
    /// <exception cref="WeightsMismatchException">Anything is missing, unexpected or mis-shaped.</exception>
    /// <exception cref="EfficientNetException">A tensor holds NaN or an infinity.</exception>
    public static int Load(nn.Module model, IReadOnlyDictionary<string, Tensor> source, string describeSource, string describeModel, string? skipPrefix = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(source);
        bool Kept(string key) => skipPrefix is null || !key.StartsWith(skipPrefix, StringComparison.Ordinal);

        var target = StateDict.Ordered(model).Where(kv => Kept(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
        var missing = target.Keys.Where(k => !source.ContainsKey(k)).ToList();
        var unexpected = source.Keys.Where(k => Kept(k) && !target.ContainsKey(k)).ToList();
        var mismatched = target
            .Where(kv => source.TryGetValue(kv.Key, out var s) && !s.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => new ShapeMismatch(kv.Key, source[kv.Key].shape, kv.Value.shape))
            .ToList();
        if (missing.Count + unexpected.Count + mismatched.Count > 0)
        {
            throw new WeightsMismatchException(Describe(describeSource, describeModel, missing, unexpected, mismatched), missing, unexpected, mismatched);
        }
        if (target.Keys.FirstOrDefault(key => !AllFinite(source[key])) is { } nonFinite)
        {
            throw new EfficientNetException(
                $"weights '{describeSource}' hold NaN or infinite values (first in '{nonFinite}'); they are not a usable model (saved from a run that diverged?)");
        }

        using var noGrad = no_grad();
        foreach (var (key, tensor) in target)
        {
            tensor.copy_(source[key]);
        }
        // A model prepared for inference keeps BatchNorm folded into copies of the weights: fold the new ones.
        foreach (var layer in model.modules().OfType<ConvNormActivation>().Where(l => l.IsFused))
        {
            layer.FuseForInference();
        }
        return target.Count;
    }

    private static bool AllFinite(Tensor tensor)
    {
        if (!tensor.is_floating_point())
        {
            return true;
        }
        using var finite = isfinite(tensor).all();
        return finite.item<bool>();
    }

    private static string Describe(string file, string model, List<string> missing, List<string> unexpected, List<ShapeMismatch> mismatched)
    {
        var parts = new List<string>();
        if (missing.Count > 0)
        {
            parts.Add($"{missing.Count} missing from the file ({List(missing)})");
        }
        if (unexpected.Count > 0)
        {
            parts.Add($"{unexpected.Count} unexpected ({List(unexpected)})");
        }
        if (mismatched.Count > 0)
        {
            parts.Add($"{mismatched.Count} with another shape ({List(mismatched.Select(m => m.ToString()).ToList())})");
        }
        bool onlyHead = missing.Count == 0 && unexpected.Count == 0 && mismatched.All(m => m.Key.StartsWith("classifier.", StringComparison.Ordinal));
        string hint = onlyHead
            ? "the file has another number of classes: skip its classifier (LoadOptions.SkipClassifier) to reuse the backbone, or build the model with the file's class count"
            : "is the file for another variant? Check the variant (LoadOptions.Variant)";
        return $"weights '{file}' do not fit {model}: {string.Join("; ", parts)}. {char.ToUpperInvariant(hint[0])}{hint[1..]}.";
    }

    private static string List(List<string> items) =>
        string.Join(", ", items.Take(ShownPerList)) + (items.Count > ShownPerList ? $", … {items.Count - ShownPerList} more" : "");
}
