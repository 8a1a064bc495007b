using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using EfficientNet.Layers;
using static TorchSharp.torch;

namespace EfficientNet.Runtime;

/// <summary>
/// Keeps libtorch's CPU convolutions right. On an AMD EPYC of family 26 (Zen 5), libtorch 2.10's oneDNN (3.7.1) computes
/// wrong convolutions, deterministically, for many shapes: with its AVX-512 kernels 1x1 convolutions on channels-last input
/// (144 -> 40 channels at 12x12: errors of 70% of the output's range) and 3x3 ones on NCHW input (40 -> 16 channels), so
/// the committed CIFAR-10 model scored 83.7% instead of 90.1% and V2 models' logits were off by up to 9%; capped at AVX2,
/// 27 of 400 random convolution shapes were still wrong (1x1 channels-last through its brgemm kernel, and NCHW ones),
/// capped at AVX 3 of 800 (3x3 NCHW with 10 or 12 input channels); capped at SSE4.1, none of 800, forward and both
/// gradients. PyTorch 1.13's oneDNN 2.6 is right there with AVX-512. oneDNN reads its ISA cap
/// (<c>ONEDNN_MAX_CPU_ISA</c>) once, at its first use, so this assembly sets it to SSE4.1 on such CPUs when it loads,
/// unless the user set a cap; that halves convolution speed there (training 164 against ~300 images/s, inference 62
/// against ~150), which is the price of right answers. Before the first forward pass a check compares convolutions of
/// the kinds seen wrong with float64 and refuses to go on where they are still wrong (another CPU with such a fault,
/// or a cap set too late), instead of computing garbage.
/// </summary>
internal static class CpuKernels
{
    /// <summary>The variable oneDNN reads its ISA cap from (also read under its older name, DNNL_MAX_CPU_ISA).</summary>
    public const string IsaVariable = "ONEDNN_MAX_CPU_ISA";

    private const string OlderIsaVariable = "DNNL_MAX_CPU_ISA";

    private static readonly Lazy<string?> Fault = new(FindFault);

    /// <summary>Why oneDNN was capped at AVX2 in this process, or null when it was not.</summary>
    public static string? CapReason { get; private set; }

    /// <summary>The ISA oneDNN is capped at where <see cref="ReasonToCap"/> gives a reason.</summary>
    public const string SafeIsa = "SSE41";

    /// <summary>
    /// The reason to cap oneDNN at <see cref="SafeIsa"/>: an AMD family-26 CPU, whose convolutions oneDNN 3.7.1 gets wrong
    /// with its AVX kernels, when the user has set no cap; else null.
    /// </summary>
    public static string? ReasonToCap(string vendor, int family, string? userCap) =>
        vendor == "AuthenticAMD" && family == 0x1A && string.IsNullOrEmpty(userCap)
            ? $"libtorch's oneDNN computes wrong AVX convolutions on AMD family 26 (Zen 5): capped at {SafeIsa}"
            : null;

    /// <summary>Caps oneDNN where <see cref="ReasonToCap"/> says so; runs when this assembly loads, before any convolution.</summary>
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "oneDNN reads its ISA cap once, at its first use: it must be set before any convolution runs.")]
    internal static void CapBeforeFirstUse()
    {
        if (!OperatingSystem.IsLinux() || !X86Base.IsSupported)
        {
            return;
        }
        string? userCap = Environment.GetEnvironmentVariable(IsaVariable) ?? Environment.GetEnvironmentVariable(OlderIsaVariable);
        string? reason = ReasonToCap(Vendor(), Family(), userCap);
        if (reason is not null && SetNativeEnvironment(IsaVariable, SafeIsa) == 0)
        {
            CapReason = reason;
        }
    }

    /// <summary>
    /// Throws, once per process and before the first forward pass, where libtorch's CPU convolutions give wrong results
    /// (the check runs a few convolutions, milliseconds).
    /// </summary>
    /// <exception cref="EfficientNetException">The convolutions are wrong on this CPU.</exception>
    public static void EnsureCorrect()
    {
        if (Fault.Value is { } fault)
        {
            throw new EfficientNetException(
                $"libtorch's CPU convolutions give wrong results on this CPU ({fault}); set the environment variable {IsaVariable}={SafeIsa} before starting the program and run it again");
        }
    }

    /// <summary>
    /// The first convolution of the kinds seen wrong that differs from its float64 result by more than 1e-4 of the output's
    /// range (float32 gives ~1e-6), or null. Inputs are computed, not drawn, so libtorch's random generator is left as it was.
    /// </summary>
    private static string? FindFault()
    {
        if (CapReason is not null)
        {
            QuietNnpack();
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // (batch, in, out, size, kernel, channels-last): shapes seen wrong with each of oneDNN's AVX-512, AVX2 and AVX kernels.
        foreach (var (batch, inChannels, outChannels, size, kernel, channelsLast) in new (long, long, long, long, long, bool)[]
        {
            (32, 144, 40, 12, 1, true), (2, 40, 16, 32, 3, false), (8, 6, 112, 3, 1, true), (64, 96, 80, 4, 1, true), (8, 10, 48, 16, 3, false),
        })
        {
            var input = arange(batch * inChannels * size * size, dtype: float32).mul(0.37).sin().view(batch, inChannels, size, size);
            var weight = arange(outChannels * inChannels * kernel * kernel, dtype: float32).mul(0.71).cos().div(Math.Sqrt(inChannels * kernel * kernel))
                .view(outChannels, inChannels, kernel, kernel);
            long padding = kernel / 2;
            var expected = nn.functional.conv2d(input.to(float64), weight.to(float64), padding: [padding, padding]);
            var x = channelsLast ? input.ToChannelsLast() : input;
            var w = channelsLast ? weight.ToChannelsLast() : weight;
            double error = (nn.functional.conv2d(x, w, padding: [padding, padding]).to(float64) - expected).abs().max().item<double>();
            if (!(error <= 1e-4 * expected.abs().max().item<double>()))
            {
                return $"{inChannels} -> {outChannels} channels, {kernel}x{kernel} at {size}x{size}, {(channelsLast ? "channels-last" : "NCHW")}: " +
                    $"off by {error / expected.abs().max().item<double>():P0} of the output's range";
            }
        }
        return null;
    }

    /// <summary>
    /// Turns libtorch's NNPACK off where oneDNN is capped: libtorch then offers some convolutions to NNPACK, whose start
    /// fails on such CPUs with a warning line per thread ("Could not initialize NNPACK! Reason: Unsupported hardware"),
    /// and they run on libtorch's other kernels anyway. Nothing happens where libtorch lacks the switch.
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

    private static string Vendor()
    {
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        Span<int> parts = [ebx, edx, ecx];
        return System.Text.Encoding.ASCII.GetString(MemoryMarshal.AsBytes(parts));
    }

    private static int Family()
    {
        int eax = X86Base.CpuId(1, 0).Eax;
        int family = (eax >> 8) & 0xF;
        return family == 0xF ? family + ((eax >> 20) & 0xFF) : family;
    }

    // at::globalContext() and at::Context::setUserEnabledNNPACK(bool), C++ functions libtorch exports (Itanium ABI).
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern nint GlobalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNnpack(nint context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    // The process's native environment, which libtorch reads (Environment.SetEnvironmentVariable changes only .NET's copy).
    [DllImport("libc", EntryPoint = "setenv", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int SetNativeEnvironment(string name, string value, int overwrite = 1);
}
