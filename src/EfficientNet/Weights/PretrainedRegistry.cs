using System.Security.Cryptography;
using EfficientNet.Imaging;
using EfficientNet.IO;

namespace EfficientNet.Weights;

/// <summary>Official pretrained weights for one variant and what they expect as input.</summary>
/// <param name="Variant">Registry name of the variant.</param>
/// <param name="Tag">torchvision's weights enum member, e.g. IMAGENET1K_V1.</param>
/// <param name="Url">Download address.</param>
/// <param name="Sha256Prefix">
/// The leading hex digits of the file's SHA-256 that torchvision publishes in the file name (and
/// checks on download, as torch.hub's check_hash does); the full digest is not published.
/// </param>
/// <param name="Params">Parameter count (1000 ImageNet classes).</param>
/// <param name="Preprocessing">Resize, crop, interpolation and normalisation of the weights' evaluation.</param>
/// <param name="Top1">ImageNet top-1 accuracy torchvision reports for these weights.</param>
/// <param name="License">Licence terms.</param>
public sealed record PretrainedWeights(string Variant, string Tag, string Url, string Sha256Prefix, long Params, Preprocessing Preprocessing, double Top1, string License)
{
    /// <summary>The file name the weights are cached under.</summary>
    public string FileName => Path.GetFileName(new Uri(Url).AbsolutePath);
}

/// <summary>
/// The torchvision 0.14 ImageNet weights for every variant torchvision has (B0–B7, V2-S/M/L), with
/// the preprocessing of its presets (<c>torchvision/models/efficientnet.py</c>). V2-B0…B3 exist only as
/// Keras .h5 files, which this library does not import, so they have no entry.
/// </summary>
public static class PretrainedRegistry
{
    private const string Licence = "BSD-3-Clause (torchvision); B0-B4 ported by Ross Wightman and B5-B7 by Luke Melas-Kyriazi from the Apache-2.0 TensorFlow originals";

    private static readonly PretrainedWeights[] Entries =
    [
        Entry("b0", "IMAGENET1K_V1", "efficientnet_b0_rwightman-3dd342df.pth", 5_288_548, 224, 256, Interpolation.Bicubic, 77.692),
        Entry("b1", "IMAGENET1K_V2", "efficientnet_b1-c27df63c.pth", 7_794_184, 240, 255, Interpolation.Bilinear, 79.838),
        Entry("b1", "IMAGENET1K_V1", "efficientnet_b1_rwightman-533bc792.pth", 7_794_184, 240, 256, Interpolation.Bicubic, 78.642),
        Entry("b2", "IMAGENET1K_V1", "efficientnet_b2_rwightman-bcdf34b7.pth", 9_109_994, 288, 288, Interpolation.Bicubic, 80.608),
        Entry("b3", "IMAGENET1K_V1", "efficientnet_b3_rwightman-cf984f9c.pth", 12_233_232, 300, 320, Interpolation.Bicubic, 82.008),
        Entry("b4", "IMAGENET1K_V1", "efficientnet_b4_rwightman-7eb33cd5.pth", 19_341_616, 380, 384, Interpolation.Bicubic, 83.384),
        Entry("b5", "IMAGENET1K_V1", "efficientnet_b5_lukemelas-b6417697.pth", 30_389_784, 456, 456, Interpolation.Bicubic, 83.444),
        Entry("b6", "IMAGENET1K_V1", "efficientnet_b6_lukemelas-c76e70fd.pth", 43_040_704, 528, 528, Interpolation.Bicubic, 84.008),
        Entry("b7", "IMAGENET1K_V1", "efficientnet_b7_lukemelas-dcc49843.pth", 66_347_960, 600, 600, Interpolation.Bicubic, 84.122),
        Entry("v2-s", "IMAGENET1K_V1", "efficientnet_v2_s-dd5fe13b.pth", 21_458_488, 384, 384, Interpolation.Bilinear, 84.228),
        Entry("v2-m", "IMAGENET1K_V1", "efficientnet_v2_m-dc08266a.pth", 54_139_356, 480, 480, Interpolation.Bilinear, 85.112),
        Entry("v2-l", "IMAGENET1K_V1", "efficientnet_v2_l-59c71312.pth", 118_515_272, 480, 480, Interpolation.Bicubic, 85.808,
            new Normalization([0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f])),
    ];

    /// <summary>Where downloaded weights are kept unless a folder is given: ~/.cache/efficientnet-net.</summary>
    public static string DefaultCacheDirectory => IO.Downloads.DefaultCacheDirectory;

    /// <summary>Every entry; the first of a variant is its default (torchvision's DEFAULT).</summary>
    public static IReadOnlyList<PretrainedWeights> All { get; } = Array.AsReadOnly(Entries);

    /// <summary>The default weights of <paramref name="variant"/>, or the one with <paramref name="tag"/>.</summary>
    public static PretrainedWeights Get(string variant, string? tag = null)
    {
        string name = Architecture.Variants.Get(variant).Name;
        var matches = Entries.Where(e => e.Variant == name).ToList();
        if (matches.Count == 0)
        {
            throw new EfficientNetException(
                $"no pretrained weights are registered for {name} (torchvision has none; Keras's .h5 files are not imported); load a weights file instead");
        }
        return tag is null ? matches[0] : matches.FirstOrDefault(e => string.Equals(e.Tag, tag, StringComparison.OrdinalIgnoreCase))
            ?? throw new EfficientNetException($"no weights tagged '{tag}' for {name}; tags: {string.Join(", ", matches.Select(m => m.Tag))}");
    }

    /// <summary>The registry entry whose published hash prefix a file's lower-case hex SHA-256 (<see cref="Sha256"/>) matches, if any.</summary>
    public static PretrainedWeights? Identify(string sha256) =>
        Entries.FirstOrDefault(e => sha256.StartsWith(e.Sha256Prefix, StringComparison.Ordinal));

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Where <paramref name="weights"/> live in <paramref name="cacheDirectory"/>.</summary>
    public static string CachePath(PretrainedWeights weights, string cacheDirectory) =>
        Path.Combine(cacheDirectory, "weights", weights.FileName);

    /// <summary>
    /// The verified local file of <paramref name="weights"/>: from the cache, or fetched into it from torchvision's
    /// address or from <paramref name="from"/> (another URL, e.g. a mirror, or a local copy). Offline, fails at once
    /// and says where to put the file. A file whose SHA-256 does not start with the published prefix is never kept.
    /// </summary>
    /// <param name="weights">The registry entry.</param>
    /// <param name="cacheDirectory">The cache; the file goes to <see cref="CachePath"/>.</param>
    /// <param name="from">An http(s) URL or a local file to fetch from instead of <see cref="PretrainedWeights.Url"/>.</param>
    /// <param name="progress">Told the bytes received after each chunk.</param>
    /// <param name="cancellation">Stops the download, keeping nothing (an <see cref="OperationCanceledException"/>).</param>
    public static string EnsureDownloaded(PretrainedWeights weights, string cacheDirectory, string? from = null, IProgress<(long Bytes, long? Total)>? progress = null, CancellationToken cancellation = default) =>
        EnsureDownloaded(weights, cacheDirectory, from, progress, download: null, cancellation);

    /// <summary>The public <c>EnsureDownloaded</c> with the opener replaced (tests).</summary>
    internal static string EnsureDownloaded(PretrainedWeights weights, string cacheDirectory, string? from, IProgress<(long Bytes, long? Total)>? progress, Func<string, Stream>? download, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(weights);
        string target = CachePath(weights, cacheDirectory);
        if (!File.Exists(target))
        {
            string source = from ?? weights.Url;
            bool http = source.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || source.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
            if (!http && !File.Exists(source))
            {
                throw new EfficientNetException($"'{source}' is neither an http(s) URL nor an existing file; pass a mirror's URL of {weights.FileName} or a local copy of it");
            }
            Downloads.ToFile(source, target, $"Get the file elsewhere and put it at '{target}', or load it from where it is", download ?? (http ? null : File.OpenRead),
                partial => Verify(partial, weights, $"what {source} sent", "nothing was kept; try again, or another source"), progress, cancellation: cancellation);
        }
        Verify(target, weights, $"'{target}'", "delete it and download again");
        return target;
    }

    private static void Verify(string path, PretrainedWeights weights, string what, string advice)
    {
        string hash = Sha256(path);
        if (!hash.StartsWith(weights.Sha256Prefix, StringComparison.Ordinal))
        {
            throw new EfficientNetException(
                $"{what} has SHA-256 {hash}, which does not start with the published {weights.Sha256Prefix}: it is damaged or not {weights.FileName}; {advice}");
        }
    }

    private static PretrainedWeights Entry(string variant, string tag, string file, long parameters, int crop, int resize, Interpolation interpolation, double top1, Normalization? normalization = null) =>
        new(variant, tag, "https://download.pytorch.org/models/" + file, file[(file.LastIndexOf('-') + 1)..file.LastIndexOf('.')], parameters,
            new Preprocessing(resize, crop, normalization ?? Normalization.ImageNet, interpolation), top1, Licence);
}
