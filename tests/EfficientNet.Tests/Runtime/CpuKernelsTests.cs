using System.Text.Json;
using EfficientNet.Layers;
using EfficientNet.Runtime;
using EfficientNet.Tests.Cli;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Runtime;

public class CpuKernelsTests
{
    // Every pointwise convolution of B0 with the CIFAR stem at 48x48 (expansion, projection, head; squeeze-excitation
    // at 1x1) and the full 3x3 convolutions of V2-B3's first stages with the CIFAR stem: (in, out, size, kernel).
    // Uncapped, libtorch's oneDNN got 11 of the pointwise ones wrong channels-last, and the 3x3 ones NCHW, on a Zen 5.
    private static readonly (long In, long Out, long Size, long Kernel)[] Shapes =
    [
        (32, 16, 48, 1), (16, 96, 48, 1), (96, 24, 24, 1), (24, 144, 24, 1), (144, 24, 24, 1), (144, 40, 12, 1), (40, 240, 12, 1),
        (240, 40, 12, 1), (240, 80, 6, 1), (80, 480, 6, 1), (480, 80, 6, 1), (480, 112, 6, 1), (112, 672, 6, 1), (672, 112, 6, 1),
        (672, 192, 3, 1), (192, 1152, 3, 1), (1152, 192, 3, 1), (1152, 320, 3, 1), (320, 1280, 3, 1), (32, 8, 1, 1), (8, 32, 1, 1),
        (40, 16, 32, 3), (40, 160, 16, 3), (56, 224, 8, 3),
        (6, 112, 3, 1), (96, 80, 4, 1), (10, 48, 16, 3), // wrong with the AVX2 and AVX kernels on a Zen 5
    ];

    // float32 sums of up to 1,152 products against the float64 result: ~1e-6 of the output's range seen.
    private const double Float32Tolerance = 1e-5;

    [Theory]
    [InlineData(2, true)]
    [InlineData(2, false)]
    [InlineData(8, true)]
    [InlineData(8, false)]
    [InlineData(64, true)]
    [InlineData(64, false)]
    public void Convolutions_GiveTheFloat64ResultOnThisCpu(long batch, bool channelsLast)
    {
        foreach (var (inChannels, outChannels, size, kernel) in Shapes)
        {
            using var scope = NewDisposeScope();
            manual_seed(inChannels * outChannels + size);
            var x = randn(batch, inChannels, size, size);
            var w = randn(outChannels, inChannels, kernel, kernel) / Math.Sqrt(inChannels * kernel * kernel);
            var b = randn(outChannels);
            long padding = kernel / 2;
            var expected = nn.functional.conv2d(x.to(float64), w.to(float64), b.to(float64), padding: [padding, padding]).to(float32);
            var actual = channelsLast
                ? nn.functional.conv2d(x.ToChannelsLast(), w.ToChannelsLast(), b, padding: [padding, padding])
                : nn.functional.conv2d(x, w, b, padding: [padding, padding]);
            double error = TensorAssert.RelativeError(expected, actual);
            Assert.True(error < Float32Tolerance,
                $"{inChannels} -> {outChannels}, {kernel}x{kernel} at {size}x{size}: relative error {error:E1} (oneDNN: {CpuKernels.CapReason ?? "not capped"})");
        }
    }

    [Fact]
    public void ReasonToCap_OnlyAmdFamily26WithNoCapOfTheUsers()
    {
        Assert.NotNull(CpuKernels.ReasonToCap("AuthenticAMD", 0x1A, userCap: null));
        Assert.NotNull(CpuKernels.ReasonToCap("AuthenticAMD", 0x1A, userCap: ""));
        Assert.Null(CpuKernels.ReasonToCap("AuthenticAMD", 0x1A, userCap: "AVX2"));
        Assert.Null(CpuKernels.ReasonToCap("AuthenticAMD", 0x19, userCap: null)); // Zen 4: right with AVX-512
        Assert.Null(CpuKernels.ReasonToCap("GenuineIntel", 0x6, userCap: null));
    }

    [Fact]
    public void UncappedOnAFaultyCpu_ARunIsRefusedWithWhatToSet()
    {
        // With the user's own cap the assembly leaves oneDNN alone: where its AVX kernels are wrong (Zen 5) the first
        // forward pass must refuse with what to set; elsewhere the run must give the usual prediction.
        string model = Path.Combine(TestPaths.RepoRoot, "models", "cifar10-b0.safetensors");
        string image = Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "test", "daisy"), "*.jpg").Order().First();
        string[] args = ["predict", "--weights", model, "--image", image, "--threads", "2", "--json"];
        var (exit, stdout, stderr) = EffnetProcess.Run(args, new Dictionary<string, string> { [CpuKernels.IsaVariable] = "ALL" });
        if (exit != 0)
        {
            Assert.Contains("libtorch's CPU convolutions give wrong results on this CPU", stderr, StringComparison.Ordinal);
            Assert.Contains($"{CpuKernels.IsaVariable}={CpuKernels.SafeIsa}", stderr, StringComparison.Ordinal);
            return;
        }
        var expected = CliRunner.Json(args).EnumerateArray().First();
        var actual = JsonDocument.Parse(stdout).RootElement.EnumerateArray().First();
        Assert.Equal(expected.GetProperty("label").GetString(), actual.GetProperty("label").GetString());
        // Another ISA's float32 kernels: probabilities within 1e-4 (a wrong convolution moves them by far more).
        Assert.Equal(expected.GetProperty("probability").GetDouble(), actual.GetProperty("probability").GetDouble(), 1e-4);
    }
}
