using System.Buffers;
using System.Runtime.InteropServices;
using EfficientNet.Onnx;
using EfficientNet.Runtime;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace EfficientNet.Inference.Engines;

/// <summary>
/// Runs an ONNX classifier in ONNX Runtime's CPU provider: all graph optimisations (constant folding,
/// operator fusion, the blocked NCHWc layout), sequential execution, <c>threads</c> intra-op threads.
/// The graph must have the plain export's contract: input <c>input</c> float (N, 3, H, W), output
/// <c>logits</c> (N, classes).
/// </summary>
public sealed class OnnxRuntimeEngine : IClassifierEngine
{
    private readonly InferenceSession session;
    private readonly RunOptions runOptions = new();
    private readonly string source;

    private OnnxRuntimeEngine(Func<SessionOptions, InferenceSession> open, string source, int threads)
    {
        threads = IntraOpThreads.Bound(threads, out _);
        this.source = source;
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
        };
        try
        {
            session = open(options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EfficientNetException($"ONNX Runtime cannot load '{source}': {FirstLine(e.Message)}", e);
        }
        try
        {
            (InputDimensions, NumClasses) = CheckContract();
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Opens an .onnx file.</summary>
    /// <exception cref="EfficientNetException">Missing, unloadable, or without the expected input and output.</exception>
    public static OnnxRuntimeEngine FromFile(string path, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new EfficientNetException($"ONNX file not found: '{path}'");
        }
        return new OnnxRuntimeEngine(options => new InferenceSession(path, options), path, threads);
    }

    /// <summary>Opens a serialised model (e.g. <see cref="OnnxExporter.ToBytes"/>); <paramref name="description"/> names it in errors.</summary>
    public static OnnxRuntimeEngine FromBytes(byte[] model, string description, int threads = 0) =>
        new(options => new InferenceSession(model, options), description, threads);

    /// <inheritdoc/>
    public EngineKind Kind => EngineKind.OnnxRuntime;

    /// <summary>The input shape the graph declares, (batch, 3, H, W); -1 where a dimension is symbolic.</summary>
    public IReadOnlyList<int> InputDimensions { get; }

    /// <summary>Input height.</summary>
    public int Height => InputDimensions[2];

    /// <summary>Input width.</summary>
    public int Width => InputDimensions[3];

    /// <summary>Columns of the logits.</summary>
    public int NumClasses { get; }

    /// <summary>The model's <c>metadata_props</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata => session.ModelMetadata.CustomMetadataMap;

    /// <inheritdoc/>
    public Tensor Logits(Tensor images)
    {
        CheckInput(images);
        int count = (int)images.numel();
        // Pooled: a new 0.6 MB array per image is a large-object allocation, and collecting those every few calls costs.
        float[] buffer = ArrayPool<float>.Shared.Rent(count);
        try
        {
            using var scope = NewDisposeScope();
            CopyInto(images, buffer);
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, count), images.shape);
            using var outputs = Run(input);
            var logits = outputs[0];
            return tensor(logits.GetTensorDataAsSpan<float>().ToArray(), logits.GetTensorTypeAndShape().Shape).MoveToOuterDisposeScope();
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    private IDisposableReadOnlyCollection<OrtValue> Run(OrtValue input)
    {
        try
        {
            return session.Run(runOptions, [OnnxExporter.InputName], [input], [OnnxExporter.LogitsName]);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EfficientNetException($"ONNX Runtime failed to run '{source}': {FirstLine(e.Message)}", e);
        }
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    // A managed copy out of the tensor's storage, since TensorAccessor.CopyTo goes element by element; not libtorch's
    // copy_, whose OpenMP workers keep spinning after each call on the cores ONNX Runtime's threads need
    // (docs/performance.md#measurements-behind-the-code).
    internal static void CopyInto(Tensor images, float[] buffer)
    {
        using var dense = images.detach().cpu().to(float32).contiguous();
        MemoryMarshal.Cast<byte, float>(dense.bytes).CopyTo(buffer);
    }

    private void CheckInput(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.ndim != 4 || images.shape[1] != 3 || images.shape[2] != Height || images.shape[3] != Width
            || (InputDimensions[0] > 0 && images.shape[0] != InputDimensions[0]))
        {
            throw new EfficientNetException(
                $"'{source}' takes ({(InputDimensions[0] > 0 ? InputDimensions[0] : "N")}, 3, {Height}, {Width}) input, got ({string.Join(", ", images.shape)})");
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        runOptions.Dispose();
        session.Dispose();
    }

    private (int[] Input, int Classes) CheckContract()
    {
        string expected = $"input '{OnnxExporter.InputName}' float32 [batch, 3, H, W] and output '{OnnxExporter.LogitsName}' float32 [batch, classes] (an export without the preprocessing in the graph)";
        string found = $"inputs {Describe(session.InputMetadata)}, outputs {Describe(session.OutputMetadata)}";
        if (!session.InputMetadata.TryGetValue(OnnxExporter.InputName, out var input)
            || !session.OutputMetadata.TryGetValue(OnnxExporter.LogitsName, out var output)
            || session.InputMetadata.Count != 1
            || !input.IsTensor || input.ElementDataType != TensorElementType.Float || input.Dimensions.Length != 4
            || !output.IsTensor || output.ElementDataType != TensorElementType.Float || output.Dimensions.Length != 2
            || input.Dimensions[1] != 3 || input.Dimensions[2] <= 0 || input.Dimensions[3] <= 0 || output.Dimensions[1] <= 0
            || !IsBatch(input.Dimensions[0]) || !IsBatch(output.Dimensions[0]))
        {
            throw new EfficientNetException($"'{source}' does not have the classifier contract: expected {expected}; found {found}");
        }
        return (input.Dimensions, output.Dimensions[1]);
    }

    // A batch dimension is symbolic (-1) or a size; a declared size past int's range reads back negative.
    private static bool IsBatch(int dimension) => dimension == -1 || dimension > 0;

    private static string Describe(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        string.Join(", ", nodes.Select(n => n.Value.IsTensor
            ? $"'{n.Key}' {n.Value.ElementDataType} [{string.Join(", ", n.Value.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : n.Value.SymbolicDimensions[i] is { Length: > 0 } s ? s : "?"))}]"
            : $"'{n.Key}' {n.Value.OnnxValueType}"));
}
