namespace EfficientNet.Tests.Cli;

/// <summary>Inputs without a bound (a device as a file, a batch or resolution far past memory) are refused at once, saying why.</summary>
public class UnboundedInputTests
{
    private static readonly string FlowersTest = Path.Combine(TestPaths.SharedData, "flowers12", "test");

    private static string Image => Directory.GetFiles(Path.Combine(FlowersTest, "daisy")).Order(StringComparer.Ordinal).First();

    [Fact]
    public void Labels_ADeviceOrAHugeFile_IsRefusedBeforeReading()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        Assert.Contains("labels file '/dev/zero' is not a regular file (a pipe, socket or device)",
            CliRunner.Fails("predict", "--weights", weights, "--image", Image, "--labels", "/dev/zero"), StringComparison.Ordinal);

        string huge = dir.File("huge.txt");
        using (var file = File.Create(huge))
        {
            file.SetLength(17 << 20); // sparse: nothing is written
        }
        Assert.Contains($"labels file '{huge}' has 17,825,792 bytes, more than the 16 MiB a labels file may have",
            CliRunner.Fails("predict", "--weights", weights, "--image", Image, "--labels", huge), StringComparison.Ordinal);
    }

    [Fact]
    public void Batch_WhoseActivationsCannotFit_IsRefusedWithTheEstimate()
    {
        // A billion images at 64x64 need hundreds of terabytes: no machine has that much memory available.
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string output = dir.File("predictions.csv");
        string line = CliRunner.Fails("predict", "--weights", weights, "--images", FlowersTest, "--out", output, "--batch", "1000000000");
        Assert.Matches(@"a batch of 1000000000 images at 64x64 needs about [\d.]+ GiB for its activations \(estimated\), more than the [\d.]+ GiB of memory available; use a batch of at most \d+", line);
        Assert.False(File.Exists(output));

        Assert.Contains("a batch of 100000 images at 4096x4096 needs about",
            CliRunner.Fails("bench", "infer", "--resolution", "4096", "--batch", "100000", "--seconds", "0.1"), StringComparison.Ordinal);
    }

    [Fact]
    public void Export_AtAResolutionPastTheLimit_IsRefused()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        Assert.Contains("the input resolution must be between 32 and 4096 pixels, got 100000",
            CliRunner.Fails("export", "--weights", weights, "--out", dir.File("model.onnx"), "--resolution", "100000"), StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("model.onnx")));
    }
}
