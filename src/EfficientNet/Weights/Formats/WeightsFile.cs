using System.Collections;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace EfficientNet.Weights.Formats;

/// <summary>The formats a weights file can have.</summary>
internal enum WeightsFormat
{
    /// <summary>A state dict written by PyTorch's <c>torch.save</c> (zip archive with a pickle).</summary>
    PyTorch,

    /// <summary>A safetensors file: torchvision state dicts, or this library's checkpoints (with metadata).</summary>
    Safetensors,
}

/// <summary>A state dict read from disk, with the file's metadata (empty for PyTorch files).</summary>
/// <param name="Path">Where it was read from, for error messages.</param>
/// <param name="Format">The detected format.</param>
/// <param name="Tensors">Tensors by state-dict key, on the CPU.</param>
/// <param name="Metadata">The safetensors "__metadata__" map; this library's checkpoints keep their model description there.</param>
internal sealed record WeightsFile(string Path, WeightsFormat Format, IReadOnlyDictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata)
    : IDisposable
{
    /// <summary>
    /// Reads a PyTorch (<c>torch.save</c>) or safetensors state dict, telling the format from the
    /// file's first bytes, not its name.
    /// </summary>
    /// <exception cref="EfficientNetException">The file is missing, unreadable, or neither format.</exception>
    public static WeightsFile Read(string path)
    {
        var format = DetectFormat(path);
        return Wrapped(path, () => format == WeightsFormat.PyTorch
            ? new WeightsFile(path, WeightsFormat.PyTorch, ReadPyTorch(path), new Dictionary<string, string>())
            : FromSafetensors(path));
    }

    /// <summary>
    /// The metadata map alone (safetensors' "__metadata__"; empty for PyTorch files, which have none), read
    /// from the header without the tensors.
    /// </summary>
    /// <exception cref="EfficientNetException">The file is missing, unreadable, or neither format.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path) =>
        DetectFormat(path) == WeightsFormat.PyTorch
            ? new Dictionary<string, string>()
            : Wrapped(path, () => SafetensorsFile.ReadMetadata(path));

    /// <summary>The format of the file at <paramref name="path"/>, from its first bytes.</summary>
    /// <exception cref="EfficientNetException">The file is missing, unreadable, or neither format.</exception>
    public static WeightsFormat DetectFormat(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new EfficientNetException(
                Directory.Exists(path)
                    ? $"weights path '{path}' is a directory; pass a .pth or .safetensors file"
                    : $"weights file not found: '{path}'");
        }
        byte[] head = new byte[16];
        int read;
        try
        {
            using var probe = File.OpenRead(path);
            read = probe.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EfficientNetException($"cannot read weights file '{path}': {e.Message}", e);
        }
        if (read >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4)
        {
            return WeightsFormat.PyTorch;
        }
        return SafetensorsFile.LooksLikeSafetensors(head.AsSpan(0, read))
            ? WeightsFormat.Safetensors
            : throw new EfficientNetException(
                $"'{path}' is neither a PyTorch state dict (torch.save zip archive) nor a safetensors file; " +
                "re-export the weights with torch.save(model.state_dict(), path) or safetensors");
    }

    // Reading errors of a file in a known format become one message that names the file.
    private static T Wrapped<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (EfficientNetException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new EfficientNetException($"weights file '{path}' is corrupt or unsupported: {e.Message}", e);
        }
    }

    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        foreach (var tensor in Tensors.Values)
        {
            tensor.Dispose();
        }
    }

    private static WeightsFile FromSafetensors(string path)
    {
        var (tensors, metadata) = SafetensorsFile.Read(path);
        return new WeightsFile(path, WeightsFormat.Safetensors, tensors, metadata);
    }

    private static Dictionary<string, Tensor> ReadPyTorch(string path)
    {
        // The unpickler also makes intermediate tensors (storages) that nothing disposes: the scope frees them,
        // and everything read when the file fails part-way.
        PyTorchArchiveCheck.Check(path);
        using var scope = NewDisposeScope();
        Hashtable table = PyTorchUnpickler.UnpickleStateDict(path);
        // Training scripts often wrap the state dict: {"state_dict": {...}} or {"model": {...}}.
        foreach (string wrapper in new[] { "state_dict", "model", "model_state_dict" })
        {
            if (table.Count == 1 && table[wrapper] is Hashtable inner)
            {
                table = inner;
            }
        }
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Value is not Tensor)
            {
                throw new EfficientNetException(
                    $"'{path}' entry '{entry.Key}' is a {entry.Value?.GetType().Name ?? "null"}, not a tensor; save model.state_dict(), not the model object");
            }
        }
        return table.Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => ((Tensor)e.Value!).MoveToOuterDisposeScope());
    }
}
