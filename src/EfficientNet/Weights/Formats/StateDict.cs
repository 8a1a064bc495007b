using static TorchSharp.torch;

namespace EfficientNet.Weights.Formats;

/// <summary>State-dict helpers that keep PyTorch's conventions.</summary>
internal static class StateDict
{
    /// <summary>
    /// A module's parameters and persistent buffers in PyTorch's order: each module's own parameters,
    /// then its own buffers, then its children depth-first. (TorchSharp's <c>state_dict()</c> lists all
    /// parameters before all buffers.) Files written in this order list keys as torchvision does.
    /// </summary>
    public static List<KeyValuePair<string, Tensor>> Ordered(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        var result = new List<KeyValuePair<string, Tensor>>();
        Collect(module, "", result);
        return result;
    }

    private static void Collect(nn.Module module, string prefix, List<KeyValuePair<string, Tensor>> into)
    {
        foreach (var (name, parameter) in module.named_parameters(recurse: false))
        {
            into.Add(KeyValuePair.Create(prefix + name, (Tensor)parameter));
        }
        foreach (var (name, buffer) in module.named_buffers(recurse: false, include_nonpersistent: false))
        {
            into.Add(KeyValuePair.Create(prefix + name, buffer));
        }
        foreach (var (name, child) in module.named_children())
        {
            Collect(child, $"{prefix}{name}.", into);
        }
    }
}
