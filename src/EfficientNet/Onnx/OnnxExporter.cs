using EfficientNet.Inference;
using EfficientNet.IO;
using EfficientNet.Models;
using Google.Protobuf;
using Onnx;
using static EfficientNet.Onnx.OnnxGraph;
using Tensor = TorchSharp.torch.Tensor;

namespace EfficientNet.Onnx;

/// <summary>How to export a model to ONNX.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The default ONNX opset.</summary>
    public const int DefaultOpset = 17;

    /// <summary>Opsets the exporter writes (every operator it emits has the same meaning across them).</summary>
    public const int MinOpset = 13;

    /// <inheritdoc cref="MinOpset"/>
    public const int MaxOpset = 21;

    /// <summary>The ai.onnx opset version.</summary>
    public int Opset { get; init; } = DefaultOpset;

    /// <summary>A fixed batch size; null makes the batch dimension symbolic ("batch").</summary>
    public int? Batch { get; init; }

    /// <summary>
    /// The graph takes uint8 RGB images (batch, H, W, 3) at the model's resolution, scales, normalises and
    /// transposes them itself, and outputs softmax probabilities instead of logits.
    /// </summary>
    public bool Preprocess { get; init; }

    /// <summary>
    /// What the metadata says about the model (class names, preprocessing, source file); by default
    /// <see cref="ClassifierInfo.For"/> the model: its resolution, ImageNet statistics, no class names.
    /// </summary>
    public ClassifierInfo? Info { get; init; }
}

/// <summary>
/// Writes an <see cref="EfficientNetModel"/> as an ONNX model from its own modules (see
/// <see cref="OnnxOperators"/>): evaluation-mode semantics, BatchNorm folded into the convolutions, SiLU
/// as Sigmoid and Mul. Contract: input <c>input</c> float32 (batch, 3, H, W) normalised as the weights
/// expect, output <c>logits</c> (batch, classes); with <see cref="OnnxExportOptions.Preprocess"/>, input
/// <c>image</c> uint8 (batch, H, W, 3) and output <c>probabilities</c>. The metadata describes the model
/// (<see cref="ClassifierInfo"/>).
/// </summary>
public static class OnnxExporter
{
    /// <summary>Name of the float input, (batch, 3, H, W) normalised as the weights expect.</summary>
    public const string InputName = "input";

    /// <summary>Name of the output of a plain export: (batch, classes) logits.</summary>
    public const string LogitsName = "logits";

    /// <summary>Name of the uint8 input of an export with <see cref="OnnxExportOptions.Preprocess"/>: (batch, H, W, 3) RGB at the model's resolution.</summary>
    public const string ImageName = "image";

    /// <summary>Name of the output of an export with <see cref="OnnxExportOptions.Preprocess"/>: (batch, classes) softmax probabilities.</summary>
    public const string ProbabilitiesName = "probabilities";

    /// <summary>The serialised ONNX model (for an in-memory session, or to write elsewhere).</summary>
    public static byte[] ToBytes(EfficientNetModel model, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        return Build(model, options).Model.ToByteArray();
    }

    /// <summary>Writes the model to <paramref name="path"/> atomically (a failure leaves no partial file).</summary>
    public static void Export(EfficientNetModel model, string path, OnnxExportOptions options)
    {
        byte[] bytes = ToBytes(model, options);
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    /// <summary>
    /// Writes an INT8 version of the model to <paramref name="path"/> (QDQ: u8 activations, s8 per-channel
    /// weights, see <see cref="Int8ExportOptions"/>) after calibrating it on <paramref name="images"/> and
    /// comparing it with the float model on the images after those; writes nothing when it loses more than
    /// <see cref="Int8ExportOptions.MaxDrop"/>.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="path">The .onnx file to write atomically.</param>
    /// <param name="options">The export's contract, as for <see cref="Export"/>.</param>
    /// <param name="quantization">How to quantize and check.</param>
    /// <param name="images">
    /// Batches of images (N, 3, H, W) at the model's resolution, normalised as it expects, with their class
    /// indices (N) or null; in an order that mixes the classes (the first ones calibrate, the next ones check).
    /// Each batch is copied as it comes, so the caller may dispose it after its step.
    /// </param>
    /// <returns>What the check measured.</returns>
    /// <exception cref="EfficientNetException">Bad options, too few images, or the INT8 model lost more than allowed (nothing written).</exception>
    public static Int8Report ExportInt8(EfficientNetModel model, string path, OnnxExportOptions options, Int8ExportOptions quantization, IEnumerable<(Tensor Images, Tensor? Labels)> images)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var plain = Build(model, options with { Preprocess = false, Batch = null });
        var exported = options.Preprocess || options.Batch is not null ? Build(model, options) : plain;
        var (bytes, report) = Int8Quantization.Quantize(plain, exported, quantization, images);
        AtomicFile.Write(path, stream => stream.Write(bytes));
        return report;
    }

    /// <summary>A built graph, the name of its normalised float input (after any preprocessing) and of its logits.</summary>
    internal sealed record BuiltModel(ModelProto Model, string FloatInput, string Logits);

    private static BuiltModel Build(EfficientNetModel model, OnnxExportOptions options)
    {
        if (options.Opset is < OnnxExportOptions.MinOpset or > OnnxExportOptions.MaxOpset)
        {
            throw new EfficientNetException(
                $"OnnxExportOptions.Opset must be between {OnnxExportOptions.MinOpset} and {OnnxExportOptions.MaxOpset}, got {options.Opset}");
        }
        if (options.Batch is <= 0)
        {
            throw new EfficientNetException($"OnnxExportOptions.Batch must be positive, got {options.Batch}");
        }
        var info = (options.Info ?? ClassifierInfo.For(model)) with { PreprocessingInGraph = options.Preprocess };
        if (info.NumClasses != model.NumClasses)
        {
            throw new EfficientNetException($"the description is of a model with {info.NumClasses} classes; this one has {model.NumClasses}");
        }
        long? batch = options.Batch;
        long side = info.Resolution;
        var graph = new OnnxGraph();
        graph.Proto.Name = model.Spec.DisplayName;

        string input = options.Preprocess ? Preprocess(graph, info) : InputName;
        string output = OnnxOperators.Emit(graph, model, input, "");
        string logits = output;
        if (options.Preprocess)
        {
            output = graph.Node("Softmax", "probabilities", [output], Int("axis", 1));
        }
        string outputName = options.Preprocess ? ProbabilitiesName : LogitsName;
        graph.RenameOutput(output, outputName);

        graph.Proto.Input.Add(options.Preprocess
            ? Value(ImageName, TensorProto.Types.DataType.Uint8, batch, side, side, 3)
            : Value(InputName, TensorProto.Types.DataType.Float, batch, 3, side, side));
        graph.Proto.Output.Add(Value(outputName, TensorProto.Types.DataType.Float, batch, model.NumClasses));

        var proto = new ModelProto
        {
            IrVersion = IrVersion(options.Opset),
            ProducerName = "EfficientNet.NET",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
            DocString = info.Model,
            Graph = graph.Proto,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = options.Opset });
        proto.MetadataProps.AddRange(info.ToMetadata().Select(kv => new StringStringEntryProto { Key = kv.Key, Value = kv.Value }));
        return new BuiltModel(proto, input, options.Preprocess ? logits : outputName);
    }

    // uint8 (batch, H, W, 3) → float (batch, 3, H, W): (x / 255 - mean) / std as one multiply and one add per channel.
    private static string Preprocess(OnnxGraph graph, ClassifierInfo info)
    {
        var norm = info.Preprocessing.Normalization;
        float[] scale = [.. norm.Std.Select(s => 1f / (255f * s))];
        float[] shift = [.. norm.Mean.Zip(norm.Std, (m, s) => -m / s)];
        const string scope = "preprocess";
        string x = graph.Node("Transpose", scope, [ImageName], Ints("perm", 0, 3, 1, 2));
        x = graph.Node("Cast", scope, [x], Int("to", (long)TensorProto.Types.DataType.Float));
        x = graph.Node("Mul", scope, [x, graph.Initializer(scope + ".scale", scale, [1, 3, 1, 1])]);
        return graph.Node("Add", scope, [x, graph.Initializer(scope + ".shift", shift, [1, 3, 1, 1])]);
    }

    // The lowest IR version that carries the opset (onnx's own version table, onnx/helper.py).
    private static long IrVersion(int opset) => opset switch
    {
        <= 14 => 7,
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };
}
