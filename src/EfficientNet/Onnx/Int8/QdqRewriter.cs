using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace EfficientNet.Onnx;

/// <summary>
/// Rewrites a float graph of <see cref="OnnxExporter"/> into a QDQ graph (QuantizeLinear / DequantizeLinear
/// pairs) that ONNX Runtime turns into integer kernels: every activation between the normalised input and the
/// logits is stored as u8 with its own scale and zero point; Conv and Gemm weights are s8, symmetric, one scale
/// per output channel (axis 0); their biases are int32 at input scale times weight scale. Each operator then sits
/// between DequantizeLinear inputs and a QuantizeLinear output, the pattern ONNX Runtime fuses into QLinearConv,
/// QLinearSigmoid, QLinearMul, QLinearAdd, QLinearGlobalAveragePool and QGemm. Flatten runs on the u8 tensor;
/// the logits (and the probabilities after them) stay float.
/// </summary>
internal static class QdqRewriter
{
    /// <summary>A tensor's u8 levels and their scale and zero point; its DequantizeLinear is added before its first float consumer.</summary>
    private sealed class Quantized(string levels, string scale, string zeroPoint, float scaleValue)
    {
        private string? values;

        public string Levels => levels;

        public string Scale => scale;

        public string ZeroPoint => zeroPoint;

        public float ScaleValue => scaleValue;

        public string Values(GraphProto graph)
        {
            if (values is null)
            {
                values = levels + "/dequantized";
                graph.Node.Add(NewNode("DequantizeLinear", values, [levels, scale, zeroPoint]));
            }
            return values;
        }
    }

    /// <summary>
    /// The float tensors the rewrite quantizes, in graph order: <paramref name="floatInput"/> and every node output
    /// after it up to, not including, <paramref name="logits"/>; Flatten's output is its input reshaped and needs no range.
    /// </summary>
    public static IReadOnlyList<string> QuantizedTensors(GraphProto graph, string floatInput, string logits)
    {
        var tensors = new List<string> { floatInput };
        foreach (var node in NodesBetween(graph, floatInput, logits))
        {
            if (node.OpType != "Flatten")
            {
                tensors.AddRange(node.Output.Where(o => o != logits));
            }
        }
        return tensors;
    }

    // The nodes after the one producing floatInput (all of them when it is a graph input), up to and including the one producing logits.
    private static IEnumerable<NodeProto> NodesBetween(GraphProto graph, string floatInput, string logits)
    {
        bool started = graph.Input.Any(i => i.Name == floatInput);
        foreach (var node in graph.Node)
        {
            if (started)
            {
                yield return node;
                if (node.Output.Contains(logits))
                {
                    yield break;
                }
            }
            started |= node.Output.Contains(floatInput);
        }
    }

    /// <summary>The QDQ version of <paramref name="model"/> with the given activation ranges and weight bits.</summary>
    public static ModelProto Rewrite(ModelProto model, string floatInput, string logits, IReadOnlyDictionary<string, ActivationRange> ranges, int weightBits)
    {
        var result = model.Clone();
        var graph = result.Graph;
        var between = NodesBetween(graph, floatInput, logits).ToHashSet();
        var nodes = graph.Node.ToList();
        graph.Node.Clear();
        var quantized = new Dictionary<string, Quantized>(StringComparer.Ordinal);
        if (graph.Input.Any(i => i.Name == floatInput))
        {
            quantized[floatInput] = QuantizeActivation(graph, floatInput, ranges[floatInput]);
        }
        foreach (var node in nodes)
        {
            if (!between.Contains(node))
            {
                // Preprocessing before the normalised input, Softmax after the logits: float as they were.
                UseDequantized(graph, node, quantized);
                graph.Node.Add(node);
                AddQuantization(graph, node, floatInput, ranges, quantized);
                continue;
            }
            if (node.OpType is "Conv" or "Gemm")
            {
                QuantizeWeightAndBias(graph, node, quantized, weightBits);
            }
            if (node.OpType == "Flatten")
            {
                FlattenLevels(graph, node, quantized);
                continue;
            }
            UseDequantized(graph, node, quantized);
            graph.Node.Add(node);
            foreach (string output in node.Output.Where(o => o != logits))
            {
                quantized[output] = QuantizeActivation(graph, output, ranges[output]);
            }
        }
        return result;
    }

    // The normalised input when it is a preprocessing node's output.
    private static void AddQuantization(GraphProto graph, NodeProto node, string floatInput, IReadOnlyDictionary<string, ActivationRange> ranges, Dictionary<string, Quantized> quantized)
    {
        if (node.Output.Contains(floatInput))
        {
            quantized[floatInput] = QuantizeActivation(graph, floatInput, ranges[floatInput]);
        }
    }

    private static void UseDequantized(GraphProto graph, NodeProto node, Dictionary<string, Quantized> quantized)
    {
        for (int i = 0; i < node.Input.Count; i++)
        {
            if (quantized.TryGetValue(node.Input[i], out var q))
            {
                node.Input[i] = q.Values(graph);
            }
        }
    }

    // Flatten of the u8 levels, which keep the input's scale and zero point.
    private static void FlattenLevels(GraphProto graph, NodeProto node, Dictionary<string, Quantized> quantized)
    {
        var q = quantized[node.Input[0]];
        node.Input[0] = q.Levels;
        graph.Node.Add(node);
        quantized[node.Output[0]] = new Quantized(node.Output[0], q.Scale, q.ZeroPoint, q.ScaleValue);
    }

    private static Quantized QuantizeActivation(GraphProto graph, string tensor, ActivationRange range)
    {
        string scale = AddInitializer(graph, tensor + "/scale", DataType.Float, [], MemoryMarshal.AsBytes([range.Scale]));
        string zeroPoint = AddInitializer(graph, tensor + "/zero_point", DataType.Uint8, [], [range.ZeroPoint]);
        string levels = tensor + "/quantized";
        graph.Node.Add(NewNode("QuantizeLinear", levels, [tensor, scale, zeroPoint]));
        return new Quantized(levels, scale, zeroPoint, range.Scale);
    }

    // Replaces the float weight (input 1) and bias (input 2) initializers with integer ones and DequantizeLinear nodes.
    private static void QuantizeWeightAndBias(GraphProto graph, NodeProto node, Dictionary<string, Quantized> quantized, int weightBits)
    {
        var activation = quantized[node.Input[0]];
        var weight = TakeInitializer(graph, node.Input[1]);
        float[] weightValues = Floats(weight);
        int channels = (int)weight.Dims[0];
        int perChannel = weightValues.Length / channels;
        int limit = (1 << (weightBits - 1)) - 1;
        var scales = new float[channels];
        var levels = new sbyte[weightValues.Length];
        for (int c = 0; c < channels; c++)
        {
            var channel = weightValues.AsSpan(c * perChannel, perChannel);
            float largest = 0;
            foreach (float w in channel)
            {
                largest = MathF.Max(largest, MathF.Abs(w));
            }
            scales[c] = largest > 0 ? largest / limit : 1f;
            for (int i = 0; i < perChannel; i++)
            {
                levels[(c * perChannel) + i] = (sbyte)Math.Clamp(MathF.Round(channel[i] / scales[c]), -limit, limit);
            }
        }
        node.Input[1] = DequantizePerChannel(graph, weight.Name, DataType.Int8, [.. weight.Dims], MemoryMarshal.AsBytes(levels.AsSpan()), scales, sizeof(sbyte));
        if (node.Input.Count > 2)
        {
            var bias = TakeInitializer(graph, node.Input[2]);
            float[] biasValues = Floats(bias);
            float[] biasScales = [.. scales.Select(s => s * activation.ScaleValue)];
            int[] biasLevels = [.. biasValues.Select((b, c) => (int)Math.Clamp(Math.Round(b / (double)biasScales[c]), int.MinValue, int.MaxValue))];
            node.Input[2] = DequantizePerChannel(graph, bias.Name, DataType.Int32, [.. bias.Dims], MemoryMarshal.AsBytes(biasLevels.AsSpan()), biasScales, sizeof(int));
        }
    }

    private static string DequantizePerChannel(GraphProto graph, string name, DataType type, long[] dims, ReadOnlySpan<byte> levels, float[] scales, int zeroPointBytes)
    {
        string levelsName = AddInitializer(graph, name + "/quantized", type, dims, levels);
        string scale = AddInitializer(graph, name + "/scale", DataType.Float, [scales.Length], MemoryMarshal.AsBytes(scales.AsSpan()));
        string zeroPoint = AddInitializer(graph, name + "/zero_point", type, [scales.Length], new byte[scales.Length * zeroPointBytes]);
        string values = name + "/dequantized";
        var node = NewNode("DequantizeLinear", values, [levelsName, scale, zeroPoint]);
        node.Attribute.Add(OnnxGraph.Int("axis", 0));
        graph.Node.Add(node);
        return values;
    }

    private static TensorProto TakeInitializer(GraphProto graph, string name)
    {
        var tensor = graph.Initializer.FirstOrDefault(t => t.Name == name)
            ?? throw new InvalidOperationException($"'{name}' is not an initializer");
        graph.Initializer.Remove(tensor);
        return tensor;
    }

    private static float[] Floats(TensorProto tensor) => MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();

    private static string AddInitializer(GraphProto graph, string name, DataType type, long[] dims, ReadOnlySpan<byte> data)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(data) };
        tensor.Dims.AddRange(dims);
        graph.Initializer.Add(tensor);
        return name;
    }

    private static NodeProto NewNode(string opType, string output, string[] inputs)
    {
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }
}
