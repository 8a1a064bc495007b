using System.Text.Json;
using EfficientNet.Layers;
using EfficientNet.Runtime;
using EfficientNet.Tests.Cli;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Layers;

public class ConvolutionsTests
{
    // Every pointwise convolution of B0 with the CIFAR stem at 48x48 (expansion, projection, head; squeeze-excitation
    // at 1x1), the stem, some depthwise ones, and the full 3x3 convolutions of V2-B3's first stages:
    // (in, out, size, kernel, stride, groups). Run on oneDNN uncapped, 11 of the pointwise ones were wrong channels-last,
    // and the 3x3 ones with 24 or 40 input channels NCHW (NaN), on the Zen 5 VMs that hide their caches.
    private static readonly (long In, long Out, long Size, long Kernel, long Stride, long Groups)[] Shapes =
    [
        (32, 16, 48, 1, 1, 1), (16, 96, 48, 1, 1, 1), (96, 24, 24, 1, 1, 1), (24, 144, 24, 1, 1, 1), (144, 24, 24, 1, 1, 1), (144, 40, 12, 1, 1, 1),
        (40, 240, 12, 1, 1, 1), (240, 40, 12, 1, 1, 1), (240, 80, 6, 1, 1, 1), (80, 480, 6, 1, 1, 1), (480, 80, 6, 1, 1, 1), (480, 112, 6, 1, 1, 1),
        (112, 672, 6, 1, 1, 1), (672, 112, 6, 1, 1, 1), (672, 192, 3, 1, 1, 1), (192, 1152, 3, 1, 1, 1), (1152, 192, 3, 1, 1, 1), (1152, 320, 3, 1, 1, 1),
        (320, 1280, 3, 1, 1, 1), (32, 8, 1, 1, 1, 1), (8, 32, 1, 1, 1, 1), (6, 112, 3, 1, 1, 1), (96, 80, 4, 1, 1, 1),
        (3, 32, 48, 3, 1, 1), (3, 32, 48, 3, 2, 1), (96, 96, 24, 3, 2, 96), (144, 144, 12, 5, 1, 144), (672, 672, 3, 5, 1, 672),
        (40, 16, 32, 3, 1, 1), (40, 160, 16, 3, 1, 1), (24, 96, 32, 3, 1, 1), (56, 224, 8, 3, 2, 1), (10, 48, 16, 3, 1, 1),
    ];

    // float32 sums of up to ~10,000 products against float64 (forward and input gradient): ~1e-6 of the range seen;
    // the weight gradient sums batch x height x width products.
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData(2, true)]
    [InlineData(2, false)]
    [InlineData(16, true)]
    [InlineData(16, false)]
    public void Apply_GivesTheFloat64OutputAndGradientsOnThisCpu(long batch, bool channelsLast)
    {
        foreach (var (inChannels, outChannels, size, kernel, stride, groups) in Shapes)
        {
            using var scope = NewDisposeScope();
            manual_seed(inChannels * outChannels + size);
            var x = randn(batch, inChannels, size, size);
            var w = randn(outChannels, inChannels / groups, kernel, kernel) / Math.Sqrt(inChannels / groups * kernel * kernel);
            var b = randn(outChannels);
            long padding = kernel / 2;
            // float64 runs on libtorch's own reference kernels, never oneDNN (which has no float64 convolution).
            var expected = Run(x.to(float64), w.to(float64), b.to(float64), (xi, wi, bi) => nn.functional.conv2d(xi, wi, bi, strides: [stride, stride], padding: [padding, padding], groups: groups));
            var actual = Run(channelsLast ? x.ToChannelsLast() : x, w, b, (xi, wi, bi) => Convolutions.Apply(xi, wi, bi, stride, padding, groups));
            string where = $"{inChannels} -> {outChannels}, {kernel}x{kernel} stride {stride} at {size}x{size} (checked: {CpuKernels.CheckReason ?? "no"})";
            if (actual.Output.shape[2] * actual.Output.shape[3] > 1)
            {
                Assert.True(channelsLast == actual.Output.IsChannelsLast(), "layout of " + where); // the layout carries through
            }
            AssertClose(expected.Output, actual.Output, Tolerance, "output of " + where);
            AssertClose(expected.InputGradient, actual.InputGradient, Tolerance, "input gradient of " + where);
            AssertClose(expected.WeightGradient, actual.WeightGradient, 10 * Tolerance, "weight gradient of " + where);
        }
    }

    [Theory]
    [InlineData(1, 3, 1, 1, true)]
    [InlineData(3, 1, 1, 1, false)]
    [InlineData(3, 2, 1, 1, true)]
    [InlineData(5, 2, 2, 1, false)]
    [InlineData(3, 1, 1, 7, true)]
    [InlineData(5, 2, 2, 7, false)]
    public void ShiftedProducts_IsTheConvolution(long kernel, long stride, long padding, long groups, bool bias)
    {
        using var scope = NewDisposeScope();
        manual_seed(kernel * 10 + stride);
        var x = randn([3, 7, 9, 11], float64);
        var w = randn([7 * (groups == 1 ? 2 : 1), 7 / groups, kernel, kernel], float64);
        var b = bias ? randn([w.shape[0]], float64) : null;
        var expected = nn.functional.conv2d(x, w, b, strides: [stride, stride], padding: [padding, padding], groups: groups);
        foreach (var input in new[] { x, x.ToChannelsLast() })
        {
            var actual = Convolutions.ShiftedProducts(input, w, b, stride, padding, groups);
            Assert.Equal(expected.shape, actual.shape);
            AssertClose(expected, actual, 1e-12, $"{kernel}x{kernel} stride {stride} groups {groups}");
        }
    }

    [Fact]
    public void ShiftedProducts_RefusesGroupsItDoesNotCompute()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<EfficientNetException>(() => Convolutions.ShiftedProducts(randn(1, 8, 5, 5), randn(8, 4, 3, 3), null, 1, 1, 2));
        Assert.Contains("one group or one per channel", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AUsersOwnIsaCap_IsLeftToOneDnn_AndGivesTheSamePrediction()
    {
        // ONEDNN_MAX_CPU_ISA set by the user: oneDNN runs capped, the checks (where this CPU needs them) still run, and
        // the prediction equals the default process's to float32 rounding of another ISA's kernels.
        string model = Path.Combine(TestPaths.RepoRoot, "models", "cifar10-b0.safetensors");
        string image = Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "test", "daisy"), "*.jpg").Order().First();
        string[] args = ["predict", "--weights", model, "--image", image, "--engine", "torch", "--threads", "2", "--json"];
        var (exit, stdout, stderr) = EffnetProcess.Run(args, new Dictionary<string, string> { ["ONEDNN_MAX_CPU_ISA"] = "SSE41" });
        Assert.True(exit == 0, stderr);
        var expected = CliRunner.Json(args).EnumerateArray().First();
        var actual = JsonDocument.Parse(stdout).RootElement.EnumerateArray().First();
        Assert.Equal(expected.GetProperty("label").GetString(), actual.GetProperty("label").GetString());
        Assert.Equal(expected.GetProperty("probability").GetDouble(), actual.GetProperty("probability").GetDouble(), 1e-4);
    }

    private sealed record Outputs(Tensor Output, Tensor InputGradient, Tensor WeightGradient);

    private static Outputs Run(Tensor x, Tensor w, Tensor b, Func<Tensor, Tensor, Tensor, Tensor> convolution)
    {
        var xr = x.detach().requires_grad_(true);
        var wr = w.detach().requires_grad_(true);
        var y = convolution(xr, wr, b);
        using var g = arange(y.numel(), dtype: float64).mul(0.53).sin().view(y.shape).to(y.dtype);
        y.backward([g]);
        return new Outputs(y.detach(), xr.grad!, wr.grad!);
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance, string what)
    {
        double error = (actual.to(float64) - expected.to(float64)).abs().max().item<double>() / expected.abs().max().item<double>();
        Assert.True(error <= tolerance, $"{what}: relative error {error:E1}");
    }
}
