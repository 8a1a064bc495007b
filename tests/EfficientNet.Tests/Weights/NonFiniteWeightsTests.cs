using EfficientNet.Models;
using EfficientNet.Tests.Cli;
using EfficientNet.Weights;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Weights;

/// <summary>Weights holding NaN or an infinity are refused on load, naming the file and the first such tensor.</summary>
public class NonFiniteWeightsTests
{
    private const string Poisoned = "features.3.0.block.1.0.weight";

    [Fact]
    public void Load_CheckpointWithANaN_IsRefusedByTheLibraryPredictAndFinetune()
    {
        using var dir = new TempDir();
        string path = dir.File("nan.safetensors");
        using (var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 12, CifarStem = true }))
        {
            using (no_grad())
            {
                // One value NaN, a later one infinite: the first in model order is named.
                model.state_dict()[Poisoned].view(-1)[7].fill_(double.NaN);
                model.state_dict()["features.5.0.block.0.1.running_var"].view(-1)[0].fill_(double.PositiveInfinity);
            }
            ModelCheckpoint.Save(model, path, TestModels.FlowerClasses);
        }
        string expected = $"weights '{path}' hold NaN or infinite values (first in '{Poisoned}')";

        var e = Assert.Throws<EfficientNetException>(() => ModelLoader.Load(path).Dispose());
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);

        string image = Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "test", "daisy")).Order(StringComparer.Ordinal).First();
        Assert.Contains(expected, CliRunner.Fails("predict", "--weights", path, "--image", image), StringComparison.Ordinal);

        string data = dir.File("data");
        foreach (string flower in new[] { "daisy", "pansy" })
        {
            string source = Path.Combine(TestPaths.SharedData, "flowers12", "train", flower);
            Directory.CreateDirectory(Path.Combine(data, flower));
            foreach (string file in Directory.GetFiles(source).Order().Take(2))
            {
                File.Copy(file, Path.Combine(data, flower, Path.GetFileName(file)));
            }
        }
        Assert.Contains(expected, CliRunner.Fails("finetune", "--weights", path, "--data", data, "--val-data", data, "--resolution", "32",
            "--phase1-epochs", "1", "--phase2-epochs", "1", "--batch", "2", "--out", dir.File("run")), StringComparison.Ordinal);
    }
}
