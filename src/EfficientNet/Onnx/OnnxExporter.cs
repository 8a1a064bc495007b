using EfficientNet.Imaging;
using EfficientNet.IO;
using EfficientNet.Models;
using Google.Protobuf;
using Onnx;
using static EfficientNet.Onnx.OnnxGraph;

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

    /// <summary>Class names in output order, stored in the metadata.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>The preprocessing the weights expect; by default the model's resolution with ImageNet statistics.</summary>
    public Preprocessing? Preprocessing { get; init; }

    /// <summary>SHA-256 of the weights file the model came from, stored in the metadata.</summary>
    public string? SourceSha256 { get; init; }
}

/// <summary>
/// Writes an <see cref="EfficientNetModel"/> as an ONNX model from its own modules (see
/// <see cref="OnnxOperators"/>): evaluation-mode semantics, BatchNorm folded into the convolutions, SiLU
/// as Sigmoid and Mul. Contract: input <c>input</c> float32 (batch, 3, H, W) normalised as the weights
/// expect, output <c>logits</c> (batch, classes); with <see cref="OnnxExportOptions.Preprocess"/>, input
/// <c>image</c> uint8 (batch, H, W, 3) and output <c>probabilities</c>. The metadata describes the model
/// (<see cref="OnnxModelInfo"/>).
/// </summary>
public static class OnnxExporter
{
    /// <summary>The serialised ONNX model (for an in-memory session, or to write elsewhere).</summary>
    public static byte[] ToBytes(EfficientNetModel model, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        return Build(model, options).ToByteArray();
    }

    /// <summary>Writes the model to <paramref name="path"/> atomically (a failure leaves no partial file).</summary>
    public static void Export(EfficientNetModel model, string path, OnnxExportOptions options)
    {
        byte[] bytes = ToBytes(model, options);
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    /// <summary>The description an export of <paramref name="model"/> with <paramref name="options"/> carries.</summary>
    public static OnnxModelInfo Describe(EfficientNetModel model, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (options.ClassNames is not null && options.ClassNames.Count != model.NumClasses)
        {
            throw new EfficientNetException($"{options.ClassNames.Count} class names given for a model with {model.NumClasses} classes");
        }
        string description = $"{model.Spec.DisplayName}{(model.Options.Cifar ? " (CIFAR stem)" : "")}, {model.Options.Head.ToString().ToLowerInvariant()} head, {model.NumClasses} classes";
        return new OnnxModelInfo(model.Spec.Name, description, model.NumClasses, options.ClassNames,
            options.Preprocessing ?? Preprocessing.ForResolution(model.Resolution), options.Preprocess, options.SourceSha256);
    }

    private static ModelProto Build(EfficientNetModel model, OnnxExportOptions options)
    {
        if (options.Opset is < OnnxExportOptions.MinOpset or > OnnxExportOptions.MaxOpset)
        {
            throw new EfficientNetException(
                $"--opset must be between {OnnxExportOptions.MinOpset} and {OnnxExportOptions.MaxOpset}, got {options.Opset}");
        }
        if (options.Batch is <= 0)
        {
            throw new EfficientNetException($"--batch must be positive, got {options.Batch}");
        }
        var info = Describe(model, options);
        long? batch = options.Batch;
        long side = info.Resolution;
        var graph = new OnnxGraph();
        graph.Proto.Name = model.Spec.DisplayName;

        string input = options.Preprocess ? Preprocess(graph, info) : OnnxModelInfo.InputName;
        string output = OnnxOperators.Emit(graph, model, input, "");
        if (options.Preprocess)
        {
            output = graph.Node("Softmax", "probabilities", [output], Int("axis", 1));
        }
        string outputName = options.Preprocess ? OnnxModelInfo.ProbabilitiesName : OnnxModelInfo.LogitsName;
        graph.RenameOutput(output, outputName);

        graph.Proto.Input.Add(options.Preprocess
            ? Value(OnnxModelInfo.ImageName, TensorProto.Types.DataType.Uint8, batch, side, side, 3)
            : Value(OnnxModelInfo.InputName, TensorProto.Types.DataType.Float, batch, 3, side, side));
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
        return proto;
    }

    // uint8 (batch, H, W, 3) → float (batch, 3, H, W): (x / 255 - mean) / std as one multiply and one add per channel.
    private static string Preprocess(OnnxGraph graph, OnnxModelInfo info)
    {
        var norm = info.Preprocessing.Normalization;
        float[] scale = [.. norm.Std.Select(s => 1f / (255f * s))];
        float[] shift = [.. norm.Mean.Zip(norm.Std, (m, s) => -m / s)];
        const string scope = "preprocess";
        string x = graph.Node("Transpose", scope, [OnnxModelInfo.ImageName], Ints("perm", 0, 3, 1, 2));
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
