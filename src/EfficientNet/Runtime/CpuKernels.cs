using System.Runtime.InteropServices;
using EfficientNet.Layers;

namespace EfficientNet.Runtime;

/// <summary>
/// Keeps libtorch's CPU convolutions right without capping them. On a CPU whose cache sizes oneDNN cannot see
/// (<see cref="CacheTopology"/>), or where a few convolutions of the kinds seen wrong there disagree with float64, every
/// convolution shape is checked against float64 before its first use (<see cref="ConvolutionCheck"/>) and runs on
/// oneDNN, at its full instruction set, only where it was right; elsewhere oneDNN runs unchecked. Pointwise
/// convolutions never reach oneDNN on the CPU (<see cref="Convolutions"/>). A cap the user sets
/// (<c>ONEDNN_MAX_CPU_ISA</c>) is oneDNN's own business and is left alone.
/// </summary>
internal static class CpuKernels
{
    private static readonly Lazy<string?> Reason = new(FindReason);

    /// <summary>Why each convolution shape is checked before its first use on the CPU, or null where oneDNN runs unchecked.</summary>
    public static string? CheckReason => Reason.Value;

    /// <summary>
    /// Where the library's one-line notes about the CPU's convolutions go (the tool writes them to standard error):
    /// which configuration runs and why, and each convolution found wrong. Null: nowhere.
    /// </summary>
    public static Action<string>? Notes { get; set; }

    private static string? FindReason()
    {
        string? reason = CacheTopology.WhyHiddenHere();
        if (reason is null && OperatingSystem.IsLinux())
        {
            reason = ConvolutionCheck.FindKnownFault() is { } fault
                ? $"a convolution of a kind seen wrong on other CPUs is wrong here ({fault})"
                : null;
        }
        if (reason is not null)
        {
            QuietNnpack();
        }
        return reason;
    }

    /// <summary>
    /// Turns libtorch's NNPACK off where convolutions are checked: such CPUs make NNPACK's start fail with a warning
    /// line per thread ("Could not initialize NNPACK! Reason: Unsupported hardware"), and libtorch's other kernels
    /// run instead anyway. Nothing happens where libtorch lacks the switch.
    /// </summary>
    private static void QuietNnpack()
    {
        try
        {
            SetUserEnabledNnpack(GlobalContext(), false);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Another libtorch build: the warnings stay.
        }
    }

    // at::globalContext() and at::Context::setUserEnabledNNPACK(bool), C++ functions libtorch exports (Itanium ABI).
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern nint GlobalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNnpack(nint context, [MarshalAs(UnmanagedType.U1)] bool enabled);
}
