using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace EfficientNet.Weights.Formats;

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors): an 8-byte
/// little-endian header length, a JSON header mapping each name to dtype, shape and byte range, an
/// optional "__metadata__" map of strings, then the raw little-endian tensor bytes. Files written here
/// load in Python with <c>safetensors.torch.load_file</c>.
/// </summary>
internal static class SafetensorsFile
{
    private const string MetadataKey = "__metadata__";

    /// <summary>
    /// Metadata key of the SHA-256 of the tensor bytes (in file order), written with every file that has metadata
    /// (this library's checkpoints) and checked on read, so that a damaged file is reported as such.
    /// </summary>
    public const string ChecksumKey = "efficientnet.tensors_sha256";

    // Guards against reading a huge bogus header from a file that is not safetensors at all.
    private const long MaxHeaderBytes = 100L << 20;

    private static readonly (string Name, ScalarType Type)[] DTypes =
    [
        ("F64", ScalarType.Float64), ("F32", ScalarType.Float32), ("F16", ScalarType.Float16),
        ("BF16", ScalarType.BFloat16), ("I64", ScalarType.Int64), ("I32", ScalarType.Int32),
        ("I16", ScalarType.Int16), ("I8", ScalarType.Int8), ("U8", ScalarType.Byte), ("BOOL", ScalarType.Bool),
    ];

    /// <summary>Whether the stream starts like a safetensors file (a plausible length, then '{').</summary>
    public static bool LooksLikeSafetensors(ReadOnlySpan<byte> head) =>
        head.Length >= 9 && BitConverter.ToUInt64(head[..8]) is > 1 and < (ulong)MaxHeaderBytes && head[8] == (byte)'{';

    /// <summary>Reads only the metadata map from the header, not the tensors (cheap for any file size).</summary>
    /// <exception cref="InvalidDataException">The header is truncated or malformed.</exception>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Metadata(ReadHeader(stream));
    }

    /// <summary>Reads every tensor (on the CPU) and the metadata map.</summary>
    /// <exception cref="InvalidDataException">The file is truncated or its header is malformed.</exception>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var header = ReadHeader(stream);
        long dataStart = stream.Position;
        // A file that fails part-way frees what it had read with the scope.
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, node) in header.Where(kv => kv.Key != MetadataKey))
        {
            tensors.Add(name, ReadTensor(stream, name, node, dataStart));
        }
        var metadata = Metadata(header);
        if (metadata.TryGetValue(ChecksumKey, out string? recorded))
        {
            var inFileOrder = header.Where(kv => kv.Key != MetadataKey)
                .OrderBy(kv => kv.Value!["data_offsets"]![0]!.GetValue<long>())
                .Select(kv => tensors[kv.Key]);
            string actual = Checksum(inFileOrder);
            if (!string.Equals(actual, recorded, StringComparison.Ordinal))
            {
                throw new InvalidDataException(
                    $"its tensor bytes have SHA-256 {actual[..12]}…, not the {recorded[..Math.Min(12, recorded.Length)]}… recorded when it was written: the file is damaged (disk or copy errors); use another copy, or an earlier checkpoint");
            }
        }
        foreach (var tensor in tensors.Values)
        {
            tensor.MoveToOuterDisposeScope();
        }
        return (tensors, metadata);
    }

    // The JSON header; leaves the stream at the first data byte.
    private static JsonObject ReadHeader(FileStream stream)
    {
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        if (stream.Length < 8)
        {
            throw new InvalidDataException("file is shorter than the 8-byte safetensors header length");
        }
        long headerLength = reader.ReadInt64();
        if (headerLength <= 0 || headerLength > MaxHeaderBytes || 8 + headerLength > stream.Length)
        {
            throw new InvalidDataException($"invalid safetensors header length {headerLength}");
        }
        return JsonNode.Parse(reader.ReadBytes((int)headerLength))?.AsObject()
            ?? throw new InvalidDataException("safetensors header is not a JSON object");
    }

    private static Dictionary<string, string> Metadata(JsonObject header)
    {
        var metadata = new Dictionary<string, string>();
        if (header[MetadataKey] is JsonObject meta)
        {
            foreach (var (key, value) in meta)
            {
                metadata[key] = value?.GetValue<string>() ?? "";
            }
        }
        return metadata;
    }

    private static Tensor ReadTensor(FileStream stream, string name, JsonNode? node, long dataStart)
    {
        var entry = node?.AsObject() ?? throw new InvalidDataException($"tensor '{name}' has no header entry");
        string dtypeName = entry["dtype"]?.GetValue<string>() ?? throw new InvalidDataException($"tensor '{name}' has no dtype");
        var dtype = DTypes.FirstOrDefault(d => d.Name == dtypeName);
        if (dtype.Name is null)
        {
            throw new InvalidDataException($"tensor '{name}' has unsupported dtype {dtypeName}");
        }
        long[] shape = entry["shape"]!.AsArray().Select(v => v!.GetValue<long>()).ToArray();
        long[] offsets = entry["data_offsets"]!.AsArray().Select(v => v!.GetValue<long>()).ToArray();
        // Checked against the file before anything is allocated: a small file may claim a huge tensor.
        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (n, d) => d < 0 ? throw new InvalidDataException($"tensor '{name}' has a negative dimension") : n * d) * ElementSize(dtype.Type));
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"tensor '{name}' claims a shape [{string.Join(", ", shape)}] too large for any file");
        }
        if (offsets.Length != 2 || offsets[1] - offsets[0] != expected || dataStart + offsets[1] > stream.Length)
        {
            throw new InvalidDataException(
                $"tensor '{name}' needs bytes {string.Join("..", offsets)} ({expected} bytes) but the file has {stream.Length - dataStart} data bytes; it may be truncated");
        }
        var tensor = empty(shape, dtype.Type);
        stream.Position = dataStart + offsets[0];
        tensor.ReadBytesFromStream(stream, 1 << 20);
        return tensor;
    }

    /// <summary>Writes <paramref name="tensors"/> in order, with <paramref name="metadata"/>, to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var withChecksum = metadata.Where(kv => kv.Key != ChecksumKey).Append(KeyValuePair.Create(ChecksumKey, Checksum(list.Select(kv => kv.Value))));
            header[MetadataKey] = new JsonObject(withChecksum.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));
        }
        long offset = 0;
        foreach (var (name, tensor) in list)
        {
            long length = tensor.NumberOfElements * tensor.ElementSize;
            header[name] = new JsonObject
            {
                ["dtype"] = DTypes.First(d => d.Type == tensor.dtype).Name,
                ["shape"] = new JsonArray(tensor.shape.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
                ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(offset + length)),
            };
            offset += length;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        // The format pads the header with spaces so that the data starts 8-byte aligned.
        int padding = (8 - json.Length % 8) % 8;
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write((ulong)(json.Length + padding));
        writer.Write(json);
        writer.Write(Enumerable.Repeat((byte)' ', padding).ToArray());
        writer.Flush();
        foreach (var (_, tensor) in list)
        {
            // Channels-last or GPU tensors are written as plain contiguous CPU bytes.
            using var scope = NewDisposeScope();
            tensor.detach().cpu().contiguous().WriteBytesToStream(stream, 1 << 20);
        }
    }

    /// <summary>Lower-case hex SHA-256 of the tensors' bytes as they are written (contiguous, CPU), one after another.</summary>
    private static string Checksum(IEnumerable<Tensor> tensors)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var tensor in tensors)
        {
            using var scope = NewDisposeScope();
            hash.AppendData(tensor.detach().cpu().contiguous().bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static long ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };
}
