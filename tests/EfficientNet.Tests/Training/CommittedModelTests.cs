using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using EfficientNet.Data;
using EfficientNet.Inference;
using EfficientNet.Training.Evaluation;
using EfficientNet.Training.Options;

namespace EfficientNet.Tests.Training;

/// <summary>
/// The CIFAR-10 model committed in models/: its bytes are the ones docs/cifar10-results.md names, and on the seeded
/// validation split it scores what the README's results table says, with and without flip test-time augmentation.
/// </summary>
public class CommittedModelTests
{
    private static readonly string Model = Path.Combine(TestPaths.RepoRoot, "models", "cifar10-b0.safetensors");
    private static readonly string Readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
    private static readonly string Results = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "cifar10-results.md"));
    private static readonly string Cifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    /// <summary>The percentage the README gives after <paramref name="label"/> in the model's result line.</summary>
    private static double Claimed(string label)
    {
        var match = Regex.Match(Readme, $@"`models/cifar10-b0\.safetensors`[^\n]*?{Regex.Escape(label)} \*\*(\d+\.\d+)%\*\*");
        Assert.True(match.Success, $"the README states the model's accuracy {label}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) / 100;
    }

    [Fact]
    public void Model_IsTheFileTheResultsPageNames()
    {
        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Model)));
        Assert.Contains($"SHA-256 `{sha}`", Results, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(TestTimeAugmentation.None, "validation accuracy")]
    [InlineData(TestTimeAugmentation.Flip, "with `--tta flip`")]
    public void Model_ValidationAccuracy_IsTheReadmesFigure(TestTimeAugmentation tta, string label)
    {
        var result = CheckpointEvaluation.Run(Model, new EvaluationRequest(DatasetKind.Cifar10, Cifar, Cifar10Split.Validation),
            new ClassifierOptions { TestTimeAugmentation = tta });
        Assert.Equal(5000, result.Count);
        double claimed = Claimed(label);
        Assert.InRange(result.Accuracy, claimed - 0.005, claimed + 0.005);
    }
}
