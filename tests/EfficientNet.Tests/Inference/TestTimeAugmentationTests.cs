using EfficientNet.Inference;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Inference;

/// <summary>--tta flip: the mean of the probabilities of each image and its mirror.</summary>
public class TestTimeAugmentationTests
{
    [Fact]
    public void Flip_OnAMirrorSymmetricImage_ChangesNothing()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        using var plain = Classifier.Open(weights);
        using var flip = Classifier.Open(weights, new ClassifierOptions { TestTimeAugmentation = TestTimeAugmentation.Flip });
        manual_seed(4);
        using var half = randn(2, 3, 64, 32);
        using var symmetric = cat([half, half.flip(3)], 3);

        using var expected = nn.functional.softmax(plain.Engine.Logits(symmetric), 1);
        using var actual = nn.functional.softmax(flip.Engine.Logits(symmetric), 1);

        Assert.True(actual.allclose(expected, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void Flip_IsTheMeanOfTheImageAndItsMirror()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        using var plain = Classifier.Open(weights);
        using var flip = Classifier.Open(weights, new ClassifierOptions { TestTimeAugmentation = TestTimeAugmentation.Flip });
        manual_seed(5);
        using var images = randn(3, 3, 64, 64);

        using var direct = nn.functional.softmax(plain.Engine.Logits(images), 1);
        using var mirrored = nn.functional.softmax(plain.Engine.Logits(images.flip(3)), 1);
        using var expected = (direct + mirrored) / 2;
        using var actual = nn.functional.softmax(flip.Engine.Logits(images), 1);

        Assert.True(actual.allclose(expected, rtol: 0, atol: 1e-6));
        Assert.False(direct.allclose(mirrored, rtol: 0, atol: 1e-4), "the mirror must change the prediction for this check to mean anything");
        // Predict reports the averaged probabilities.
        Assert.Equal(expected[1].max().item<float>(), flip.Predict(images, 1)[1][0].Probability, 1e-6); // the allclose bound above
    }

    [Fact]
    public void Evaluate_WithFlip_SaysSoInJson()
    {
        using var dir = new TempDir();
        string weights = TestModels.FlowersCheckpoint(dir.File("flowers.safetensors"));
        string test = Path.Combine(TestPaths.SharedData, "flowers12", "test");

        var json = Cli.CliRunner.Json("evaluate", "--checkpoint", weights, "--dataset", "folder", "--data", test, "--tta", "flip", "--plot", dir.File("c.png"), "--json");

        Assert.Equal("flip", json.GetProperty("tta").GetString());
        Assert.Equal(240, json.GetProperty("count").GetInt64());
    }
}
