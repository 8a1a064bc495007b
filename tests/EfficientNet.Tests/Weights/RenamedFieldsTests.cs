using System.Text.Json;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Weights;

/// <summary>
/// Files written before a property was renamed read the same: the committed model's checkpoint metadata and its
/// options.json hold "cifar" (a stride-1 stem), which the code now calls CifarStem, and new files keep writing "cifar".
/// </summary>
public class RenamedFieldsTests
{
    private static readonly string Models = Path.Combine(TestPaths.RepoRoot, "models");

    [Fact]
    public void OptionsJsonWrittenBeforeTheRename_ReadsCifarAsCifarStem_AndWritesItBack()
    {
        string json = File.ReadAllText(Path.Combine(Models, "cifar10-b0.options.json"));
        Assert.Contains("\"cifar\": true", json, StringComparison.Ordinal);

        var options = JsonSerializer.Deserialize<TrainOptions>(json, Trainer.OptionsJson)!;

        Assert.True(options.CifarStem);
        Assert.Matches("\"cifar\":\\s*true", JsonSerializer.Serialize(options, Trainer.OptionsJson));
    }

    [Fact]
    public void CheckpointWrittenBeforeTheRename_ReadsCifarAsCifarStem()
    {
        var info = ModelCheckpoint.ReadInfo(Path.Combine(Models, "cifar10-b0.safetensors"))!;

        Assert.True(info.Options.CifarStem);
        Assert.Matches("\"cifar\":\\s*true", JsonSerializer.Serialize(info.Options, ModelCheckpoint.Json));
    }
}
