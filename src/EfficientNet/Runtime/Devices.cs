using static TorchSharp.torch;

namespace EfficientNet.Runtime;

/// <summary>Turns a device name into a libtorch device, with an actionable error.</summary>
internal static class Devices
{
    /// <summary>"cpu" or "cuda"; "cuda" needs a CUDA build of TorchSharp (see README).</summary>
    public static Device Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            "cpu" => CPU,
            "cuda" when cuda.is_available() => CUDA,
            "cuda" => throw new EfficientNetException(
                "device cuda: CUDA is not available (this build uses TorchSharp-cpu; docs/install.md says how to switch to a CUDA package)"),
            _ => throw new EfficientNetException($"the device must be cpu or cuda, got '{name}'"),
        };
    }
}
