using System.CommandLine;
using EfficientNet.Architecture;

namespace EfficientNet.Cli.Commands;

/// <summary>Options several verbs share, defined once so their names and help agree.</summary>
internal static class CommonOptions
{
    public static Option<bool> Json() => new("--json") { Description = "Print JSON instead of a table" };

    public static Option<string> Variant(bool required) => new("--variant", "-v")
    {
        Description = $"Model variant: {string.Join(", ", Variants.Names)}",
        Required = required,
    };

    public static Option<int> Threads() => new("--threads")
    {
        Description = "libtorch intra-op threads (0: libtorch's default, one per physical core)",
        DefaultValueFactory = _ => 0,
    };

    public static Option<string> Device() => new("--device")
    {
        Description = "cpu or cuda (cuda needs a CUDA build of TorchSharp)",
        DefaultValueFactory = _ => "cpu",
    };
}
