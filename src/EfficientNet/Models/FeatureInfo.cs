namespace EfficientNet.Models;

/// <summary>
/// One feature level a backbone exposes, as timm's <c>feature_info</c>: which child of
/// <c>features</c> produces it, its channels, and its stride relative to the input.
/// </summary>
/// <param name="Index">Index into the model's <c>features</c> sequence.</param>
/// <param name="Name">Module name, e.g. "features.3".</param>
/// <param name="Channels">Output channels.</param>
/// <param name="Reduction">Total stride from the input (an input of size R gives maps of about R / Reduction).</param>
public sealed record FeatureInfo(int Index, string Name, int Channels, int Reduction);
