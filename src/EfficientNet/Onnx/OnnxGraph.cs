using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace EfficientNet.Onnx;

/// <summary>
/// Builds one ONNX graph: nodes in execution order, float initializers (weights), and unique value
/// names derived from the module path, so an exported graph reads like the model's state dict
/// (<c>features.1.0.block.0/Conv</c>).
/// </summary>
internal sealed class OnnxGraph
{
    private readonly HashSet<string> names = new(StringComparer.Ordinal);

    public GraphProto Proto { get; } = new();

    /// <summary>Appends a node and returns the name of its (single) output.</summary>
    public string Node(string opType, string scope, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        string output = Unique($"{scope}/{opType}");
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Proto.Node.Add(node);
        return output;
    }

    /// <summary>Adds a float32 initializer with the tensor's values in row-major (NCHW) order.</summary>
    public string Initializer(string name, Tensor tensor)
    {
        using var dense = tensor.detach().cpu().to(float32).contiguous();
        float[] values = dense.data<float>().ToArray();
        return Initializer(name, values, dense.shape);
    }

    /// <summary>Adds a float32 initializer of the given shape.</summary>
    public string Initializer(string name, float[] values, long[] shape)
    {
        var proto = new TensorProto
        {
            Name = Unique(name),
            DataType = (int)TensorProto.Types.DataType.Float,
            // raw_data is little-endian by the ONNX specification, as is every platform .NET runs this on.
            RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())),
        };
        proto.Dims.AddRange(shape);
        Proto.Initializer.Add(proto);
        return proto.Name;
    }

    /// <summary>Declares a graph input or output tensor; a null dimension is the symbolic batch size.</summary>
    public static ValueInfoProto Value(string name, TensorProto.Types.DataType type, params long?[] shape)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() };
        foreach (long? dim in shape)
        {
            tensorType.Shape.Dim.Add(dim is long d ? new TensorShapeProto.Types.Dimension { DimValue = d } : new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>Renames the last node's output to <paramref name="name"/> (a graph output's contract name).</summary>
    public void RenameOutput(string current, string name)
    {
        var node = Proto.Node.Last(n => n.Output.Contains(current));
        node.Output[node.Output.IndexOf(current)] = name;
        names.Add(name);
    }

    private string Unique(string name)
    {
        string candidate = name;
        for (int i = 1; !names.Add(candidate); i++)
        {
            candidate = $"{name}_{i}";
        }
        return candidate;
    }
}
