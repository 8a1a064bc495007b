using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace EfficientNet.Weights.Formats;

/// <summary>
/// Checks a <c>torch.save</c> zip archive before it is unpickled: every tensor its pickle declares must fit the
/// storage the archive really holds. TorchSharp.PyBridge allocates each tensor at the shape the pickle claims, so
/// a 750-byte file claiming 2^36 elements would otherwise ask for 256 GiB. The pickle is only scanned here (a
/// symbolic stack of the opcodes torch.save writes); nothing in it is constructed or called.
/// </summary>
internal static class PyTorchArchiveCheck
{
    // Largest data.pkl scanned; a state dict's pickle is a few hundred bytes per tensor.
    private const long MaxPickleBytes = 256L << 20;

    private static readonly Dictionary<string, int> StorageElementBytes = new(StringComparer.Ordinal)
    {
        ["DoubleStorage"] = 8,
        ["FloatStorage"] = 4,
        ["HalfStorage"] = 2,
        ["BFloat16Storage"] = 2,
        ["LongStorage"] = 8,
        ["IntStorage"] = 4,
        ["ShortStorage"] = 2,
        ["CharStorage"] = 1,
        ["ByteStorage"] = 1,
        ["BoolStorage"] = 1,
        ["ComplexFloatStorage"] = 8,
        ["ComplexDoubleStorage"] = 16,
    };

    /// <summary>
    /// Throws when a tensor in the archive at <paramref name="path"/> claims more data than its storage holds;
    /// returns how many tensors were checked.
    /// </summary>
    /// <exception cref="InvalidDataException">A storage's size disagrees with its entry, or a tensor does not fit its storage.</exception>
    public static int Check(string path)
    {
        using var archive = ZipFile.OpenRead(path);
        var pickle = archive.Entries.FirstOrDefault(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal));
        if (pickle is null || pickle.Length > MaxPickleBytes)
        {
            return 0; // The unpickler reports a missing pickle; an oversized one is not a state dict this checks.
        }
        string dataFolder = pickle.FullName[..^"data.pkl".Length] + "data/";
        var storageBytes = archive.Entries
            .Where(e => e.FullName.StartsWith(dataFolder, StringComparison.Ordinal))
            .ToDictionary(e => e.FullName[dataFolder.Length..], e => e.Length, StringComparer.Ordinal);
        byte[] bytes = new byte[pickle.Length];
        using (var stream = pickle.Open())
        {
            stream.ReadExactly(bytes);
        }
        int tensors = 0;
        new Scanner(bytes, call => tensors += CheckTensor(call, storageBytes)).Run();
        return tensors;
    }

    // 1 for a tensor checked, 0 for any other call.
    private static int CheckTensor(Call call, Dictionary<string, long> storageBytes)
    {
        if (call.Callable is not { Module: "torch._utils", Name: "_rebuild_tensor" or "_rebuild_tensor_v2" }
            || call.Args is not [Persistent { Id: ["storage", Global storageType, string key, _, long numel, ..] }, long offset, object?[] shape, object?[] stride, ..]
            || !StorageElementBytes.TryGetValue(storageType.Name, out int elementBytes))
        {
            return 0;
        }
        long[] dims = shape.Select(AsLong).ToArray();
        long[] steps = stride.Select(AsLong).ToArray();
        string shapeText = $"[{string.Join(", ", dims)}]";
        if (!storageBytes.TryGetValue(key, out long held))
        {
            throw new InvalidDataException($"a tensor of shape {shapeText} refers to storage '{key}', which the archive does not hold");
        }
        try
        {
            if (numel < 0 || checked(numel * elementBytes) != held)
            {
                throw new InvalidDataException($"storage '{key}' claims {numel} elements of {elementBytes} bytes but the archive holds {held} bytes for it");
            }
            if (dims.Length != steps.Length || dims.Any(d => d < 0) || steps.Any(s => s < 0) || offset < 0)
            {
                throw new InvalidDataException($"a tensor in storage '{key}' has an invalid shape {shapeText} or stride");
            }
            long elements = dims.Aggregate(1L, (n, d) => checked(n * d));
            long extent = elements == 0 ? 0 : checked(offset + dims.Zip(steps, (d, s) => checked((d - 1) * s)).Sum() + 1);
            if (elements > numel || extent > numel)
            {
                throw new InvalidDataException($"a tensor of shape {shapeText} needs {Math.Max(elements, extent)} elements but its storage '{key}' holds {numel}");
            }
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"a tensor of shape {shapeText} in storage '{key}' claims more elements than any file can hold");
        }
        return 1;
    }

    private static long AsLong(object? value) => value is long n ? n : throw new InvalidDataException("a tensor's shape or stride is not a list of integers");

    private sealed record Global(string Module, string Name);

    private sealed record Persistent(object?[] Id);

    private sealed record Call(Global? Callable, object?[] Args);

    /// <summary>A dict, list or set the scan does not need the contents of.</summary>
    private sealed class Container;

    private sealed class Mark;

    /// <summary>
    /// Walks the pickle's opcodes on a symbolic stack (protocols 2-5, as torch.save writes them) and reports every
    /// REDUCE with its callable and arguments. Stops quietly at an opcode it does not know: the unpickler then
    /// decides about the file.
    /// </summary>
    private sealed class Scanner(byte[] pickle, Action<Call> onCall)
    {
        private static readonly Mark MarkObject = new();
        private readonly List<object?> stack = [];
        private readonly Dictionary<long, object?> memo = [];
        private int at;

        public void Run()
        {
            try
            {
                while (at < pickle.Length && Step())
                {
                }
            }
            catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException)
            {
                // A malformed pickle: the unpickler reports it.
            }
        }

        private bool Step()
        {
            byte op = pickle[at++];
            switch (op)
            {
                case 0x80: at += 1; break;                                           // PROTO
                case 0x95: at += 8; break;                                           // FRAME
                case (byte)'.': return false;                                        // STOP
                case (byte)'(': Push(MarkObject); break;                             // MARK
                case (byte)')': Push(Array.Empty<object?>()); break;                 // EMPTY_TUPLE
                case (byte)'t': Push(PopToMark()); break;                            // TUPLE
                case 0x85: Push(PopMany(1)); break;                                  // TUPLE1
                case 0x86: Push(PopMany(2)); break;                                  // TUPLE2
                case 0x87: Push(PopMany(3)); break;                                  // TUPLE3
                case (byte)'}' or (byte)']' or 0x8f: Push(new Container()); break;   // EMPTY_DICT, EMPTY_LIST, EMPTY_SET
                case (byte)'s': PopMany(2); break;                                   // SETITEM
                case (byte)'a' or (byte)'b' or (byte)'0': PopMany(1); break;         // APPEND, BUILD, POP
                case (byte)'u' or (byte)'e' or 0x90 or (byte)'1': PopToMark(); break; // SETITEMS, APPENDS, ADDITEMS, POP_MARK
                case (byte)'2': Push(stack[^1]); break;                              // DUP
                case (byte)'N': Push(null); break;                                   // NONE
                case 0x88: Push(true); break;                                        // NEWTRUE
                case 0x89: Push(false); break;                                       // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case (byte)'K': Push((long)Take(1)[0]); break;                       // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case 0x8a: Push(Long(Take(Take(1)[0]))); break;                      // LONG1
                case (byte)'G': at += 8; Push(0.0); break;                           // BINFLOAT
                case (byte)'X': Push(Text(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))); break; // BINUNICODE
                case 0x8c or (byte)'U': Push(Text(Take(1)[0])); break;               // SHORT_BINUNICODE, SHORT_BINSTRING
                case (byte)'T': Push(Text(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))); break; // BINSTRING
                case (byte)'C': at += Take(1)[0]; Push(new Container()); break;      // SHORT_BINBYTES
                case (byte)'B': at += BinaryPrimitives.ReadInt32LittleEndian(Take(4)); Push(new Container()); break; // BINBYTES
                case (byte)'c': Push(new Global(Line(), Line())); break;             // GLOBAL
                case 0x93: { var name = Pop() as string; Push(new Global(Pop() as string ?? "", name ?? "")); break; } // STACK_GLOBAL
                case (byte)'q': memo[Take(1)[0]] = stack[^1]; break;                 // BINPUT
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = stack[^1]; break; // LONG_BINPUT
                case 0x94: memo[memo.Count] = stack[^1]; break;                      // MEMOIZE
                case (byte)'h': Push(memo.GetValueOrDefault(Take(1)[0])); break;     // BINGET
                case (byte)'j': Push(memo.GetValueOrDefault(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // LONG_BINGET
                case (byte)'Q': Push(new Persistent(Pop() as object?[] ?? [])); break; // BINPERSID
                case (byte)'R' or 0x81:                                               // REDUCE, NEWOBJ
                    {
                        var args = Pop() as object?[] ?? [];
                        var call = new Call(Pop() as Global, args);
                        onCall(call);
                        Push(call);
                        break;
                    }
                default: return false;
            }
            return true;
        }

        private void Push(object? value) => stack.Add(value);

        private object? Pop()
        {
            var value = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return value;
        }

        private object?[] PopMany(int count)
        {
            var values = stack.GetRange(stack.Count - count, count).ToArray();
            stack.RemoveRange(stack.Count - count, count);
            return values;
        }

        private object?[] PopToMark()
        {
            int mark = stack.FindLastIndex(v => ReferenceEquals(v, MarkObject));
            var values = stack.GetRange(mark + 1, stack.Count - mark - 1).ToArray();
            stack.RemoveRange(mark, stack.Count - mark);
            return values;
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            var span = pickle.AsSpan(at, count);
            at += count;
            return span;
        }

        private string Text(int length) => Encoding.UTF8.GetString(Take(length));

        private string Line()
        {
            int end = Array.IndexOf(pickle, (byte)'\n', at);
            string line = Encoding.ASCII.GetString(pickle, at, end - at);
            at = end + 1;
            return line;
        }

        // LONG1: little-endian two's complement; more than 8 bytes cannot be a size any file holds.
        private static long Long(ReadOnlySpan<byte> bytes)
        {
            if (bytes.Length > 8)
            {
                return long.MaxValue;
            }
            long value = 0;
            for (int i = bytes.Length - 1; i >= 0; i--)
            {
                value = (value << 8) | bytes[i];
            }
            return bytes.Length is > 0 and < 8 && (bytes[^1] & 0x80) != 0 ? value - (1L << (8 * bytes.Length)) : value;
        }
    }
}
