using EfficientNet.Imaging;
using EfficientNet.Inference.Engines;
using EfficientNet.Models;
using EfficientNet.Onnx;
using EfficientNet.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Inference;

/// <summary>The inference engines a classifier can run on.</summary>
public enum EngineKind
{
    /// <summary>TorchSharp (libtorch): the model's own modules, BatchNorm folded, channels-last weights.</summary>
    Torch,

    /// <summary>ONNX Runtime's CPU provider on the model's ONNX export, all graph optimisations on.</summary>
    OnnxRuntime,
}

/// <summary>Test-time augmentation for <see cref="ClassifierOptions.TestTimeAugmentation"/>.</summary>
public enum TestTimeAugmentation
{
    /// <summary>Each image as it is.</summary>
    None,

    /// <summary>The mean of the probabilities of each image and its horizontal mirror (two forward passes).</summary>
    Flip,
}

/// <summary>One class of a top-k prediction.</summary>
/// <param name="Index">Class index (the classifier's output row).</param>
/// <param name="Label">Class name, when known.</param>
/// <param name="Probability">Softmax probability.</param>
public sealed record Prediction(int Index, string? Label, double Probability);

/// <summary>How to open a classifier.</summary>
public sealed record ClassifierOptions
{
    /// <summary>
    /// The engine; null runs ONNX Runtime on the CPU (weights files through their ONNX export) and TorchSharp on another
    /// <see cref="Device"/> (see <see cref="Classifier.EngineFor"/>).
    /// </summary>
    public EngineKind? Engine { get; init; }

    /// <summary>The variant: required for plain state dicts, checked against checkpoints and ONNX metadata.</summary>
    public string? Variant { get; init; }

    /// <summary>ONNX Runtime intra-op threads (0: its default). libtorch's thread count is process-wide: set it with <c>torch.set_num_threads</c>.</summary>
    public int Threads { get; init; }

    /// <summary>Where TorchSharp runs the model (ONNX Runtime runs on the CPU).</summary>
    public Device? Device { get; init; }

    /// <summary>Class names that replace the file's (one per class).</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>The normalisation for weights that record none (plain state dicts); null: ImageNet statistics.</summary>
    public Normalization? DefaultNormalization { get; init; }

    /// <summary>Test-time augmentation: <see cref="TestTimeAugmentation.Flip"/> averages each image with its mirror.</summary>
    public TestTimeAugmentation TestTimeAugmentation { get; init; }

    /// <summary>
    /// A folder where the ONNX exports of weights files opened on ONNX Runtime are kept, named by the SHA-256 of the
    /// weights' bytes and of the options that shape the export, so that opening the same weights again skips loading and
    /// exporting them; null (the default) exports in memory each time. The <c>effnet</c> tool uses
    /// <c>~/.cache/efficientnet-net/onnx</c>; its files may be deleted at any time.
    /// </summary>
    public string? ExportCache { get; init; }
}

/// <summary>
/// A classifier ready for inference: an engine (TorchSharp or ONNX Runtime) and what the model expects
/// (<see cref="ClassifierInfo"/>). <see cref="Open"/> takes this library's checkpoints, torchvision state
/// dicts and ONNX files exported by <see cref="OnnxExporter"/>.
/// </summary>
public sealed class Classifier(IClassifierEngine engine, ClassifierInfo info) : IDisposable
{
    /// <summary>The engine that computes logits.</summary>
    public IClassifierEngine Engine { get; } = engine ?? throw new ArgumentNullException(nameof(engine));

    /// <summary>Variant, classes and preprocessing.</summary>
    public ClassifierInfo Info { get; } = info ?? throw new ArgumentNullException(nameof(info));

    /// <summary>
    /// Opens <paramref name="path"/>: an .onnx file from <see cref="Onnx.OnnxExporter"/>, this library's checkpoint, or
    /// a torchvision-layout state dict (with <see cref="ClassifierOptions.Variant"/>). Weights run in ONNX Runtime
    /// through an in-memory export, or in TorchSharp (see <see cref="EngineFor"/>). Preprocessing travels with the weights:
    /// checkpoints and ONNX files record it; official torchvision files are recognised by their published
    /// hash and get their preset.
    /// </summary>
    /// <exception cref="EfficientNetException">A missing, corrupt or mismatched file, or an engine it cannot run on.</exception>
    public static Classifier Open(string path, ClassifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new ClassifierOptions();
        var classifier = IsOnnx(path) ? OpenOnnx(path, options) : OpenWeights(path, options);
        if (options.Labels is null && options.TestTimeAugmentation == TestTimeAugmentation.None)
        {
            return classifier;
        }
        try
        {
            var engine = options.TestTimeAugmentation == TestTimeAugmentation.Flip ? new FlipAveragedEngine(classifier.Engine) : classifier.Engine;
            return new Classifier(engine, options.Labels is null ? classifier.Info : classifier.Info.WithLabels(options.Labels));
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>The <paramref name="top"/> most probable classes of the image at <paramref name="imagePath"/>, best first.</summary>
    public IReadOnlyList<Prediction> Predict(string imagePath, int top = 5)
    {
        CheckTop(top);
        using var scope = NewDisposeScope();
        var input = ImageDecoder.Load(imagePath, Info.Preprocessing).unsqueeze(0);
        return Predict(input, top)[0];
    }

    /// <summary>The top classes of each image of a normalised (N, 3, H, W) batch.</summary>
    public IReadOnlyList<IReadOnlyList<Prediction>> Predict(Tensor images, int top = 5)
    {
        CheckTop(top);
        using var scope = NewDisposeScope();
        var probabilities = nn.functional.softmax(Engine.Logits(images), 1);
        var (values, indices) = probabilities.topk(Math.Min(top, Info.NumClasses));
        float[] p = values.data<float>().ToArray();
        long[] idx = indices.data<long>().ToArray();
        int k = (int)values.shape[1];
        return Enumerable.Range(0, (int)values.shape[0])
            .Select(row => (IReadOnlyList<Prediction>)Enumerable.Range(row * k, k)
                .Select(i => new Prediction((int)idx[i], Info.ClassNames?[(int)idx[i]], p[i])).ToArray())
            .ToArray();
    }

    /// <summary>The largest labels file read (ImageNet-21k's 21,843 names take about 0.5 MiB).</summary>
    internal const long MaxLabelsBytes = 16 << 20;

    /// <summary>Reads a labels file: one class name per line, blank lines ignored; a regular file of at most <see cref="MaxLabelsBytes"/>.</summary>
    public static IReadOnlyList<string> ReadLabels(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new EfficientNetException($"labels file not found: '{path}'");
        }
        if (IO.FileKind.Of(path) == IO.FileType.Special)
        {
            throw new EfficientNetException($"labels file '{path}' is not a regular file (a pipe, socket or device); pass a text file with one class name per line");
        }
        long length = new FileInfo(path).Length;
        if (length > MaxLabelsBytes)
        {
            throw new EfficientNetException($"labels file '{path}' has {length:N0} bytes, more than the {MaxLabelsBytes >> 20} MiB a labels file may have; pass a text file with one class name per line");
        }
        return File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
    }

    /// <summary>Disposes the engine.</summary>
    public void Dispose() => Engine.Dispose();

    /// <summary>
    /// The engine <see cref="Open"/> uses for <paramref name="path"/>: the requested one, else ONNX Runtime for .onnx files
    /// and, for weights, <see cref="DefaultEngine"/> on <paramref name="device"/>.
    /// </summary>
    public static EngineKind EngineFor(string path, EngineKind? requested, Device? device = null) =>
        requested ?? (IsOnnx(path) ? EngineKind.OnnxRuntime : DefaultEngine(device));

    /// <summary>
    /// The engine a model runs on unless asked otherwise: ONNX Runtime on the CPU (null: the CPU), where it is the fastest
    /// (docs/performance.md), and TorchSharp on any other device (ONNX Runtime runs on the CPU here).
    /// </summary>
    public static EngineKind DefaultEngine(Device? device) =>
        device is null || device.type == DeviceType.CPU ? EngineKind.OnnxRuntime : EngineKind.Torch;

    /// <summary>Whether <paramref name="path"/> names an ONNX model (by its extension: ONNX files have no magic number).</summary>
    public static bool IsOnnx(string path) => string.Equals(Path.GetExtension(path), ".onnx", StringComparison.OrdinalIgnoreCase);

    private static Classifier OpenOnnx(string path, ClassifierOptions options)
    {
        if (options.Engine == EngineKind.Torch)
        {
            throw new EfficientNetException($"'{path}' is an ONNX file, which runs on EngineKind.OnnxRuntime; pass the weights it was exported from for EngineKind.Torch");
        }
        RequireCpu(options);
        var engine = OnnxRuntimeEngine.FromFile(path, options.Threads);
        try
        {
            var info = ClassifierInfo.FromMetadata(engine.Metadata, path);
            if (info.NumClasses != engine.NumClasses || info.Resolution != engine.Height || info.Resolution != engine.Width)
            {
                throw new EfficientNetException(
                    $"'{path}' metadata says {info.NumClasses} classes at {info.Resolution}x{info.Resolution}, but its graph has {engine.NumClasses} at {engine.Height}x{engine.Width}");
            }
            if (options.Variant is not null && Architecture.Variants.Get(options.Variant).Name != info.Variant)
            {
                throw new EfficientNetException($"'{path}' is an export of {info.Variant}, not {Architecture.Variants.Get(options.Variant).Name}; set ClassifierOptions.Variant to {info.Variant} or leave it out");
            }
            return new Classifier(engine, info);
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    private static Classifier OpenWeights(string path, ClassifierOptions options)
    {
        bool onnxRuntime = EngineFor(path, options.Engine, options.Device) == EngineKind.OnnxRuntime;
        if (onnxRuntime)
        {
            RequireCpu(options);
        }
        string? kept = onnxRuntime && options.ExportCache is { } folder && File.Exists(path) ? OnnxExportCache.PathFor(folder, path, options) : null;
        if (kept is not null && File.Exists(kept))
        {
            try
            {
                return OpenOnnx(kept, options);
            }
            catch (EfficientNetException)
            {
                OnnxExportCache.Discard(kept);
            }
        }
        var loaded = ModelLoader.Load(path, new LoadOptions { Variant = options.Variant });
        try
        {
            var info = ClassifierInfo.FromWeights(path, loaded, options.DefaultNormalization);
            if (onnxRuntime)
            {
                byte[] onnx = OnnxExporter.ToBytes(loaded.Model, new OnnxExportOptions { Info = info });
                loaded.Dispose();
                var classifier = new Classifier(OnnxRuntimeEngine.FromBytes(onnx, $"the ONNX export of '{path}'", options.Threads), info);
                if (kept is not null)
                {
                    OnnxExportCache.Store(kept, onnx);
                }
                return classifier;
            }
            loaded.Model.to(options.Device ?? CPU);
            return new Classifier(new TorchEngine(loaded.Model), info);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    private static void RequireCpu(ClassifierOptions options)
    {
        if (options.Device is { } device && device.type != DeviceType.CPU)
        {
            throw new EfficientNetException($"EngineKind.OnnxRuntime runs on the CPU here (the Microsoft.ML.OnnxRuntime package); use EngineKind.Torch for the device {device.type.ToString().ToLowerInvariant()}");
        }
    }

    private static void CheckTop(int top)
    {
        if (top <= 0)
        {
            throw new EfficientNetException($"top must be positive, got {top}");
        }
    }
}
