using EfficientNet.Imaging;
using EfficientNet.Models;
using EfficientNet.Weights;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Tests;

/// <summary>Models with weights that make every layer matter, for parity checks without pretrained files.</summary>
internal static class TestModels
{
    /// <summary>
    /// A model that behaves like a trained one: random BatchNorm scales and shifts, running statistics
    /// measured on random images (cumulative averages, so activations stay near unit scale through the
    /// whole depth and folding them into the convolutions matters), and a random logit layer (the default
    /// zero one would make every logit 0). Returned in evaluation mode.
    /// </summary>
    /// <param name="variant">Registry name.</param>
    /// <param name="options">Build options.</param>
    /// <param name="batches">Calibration batches of random images.</param>
    /// <param name="images">Calibrate on these (N, 3, H, W) images instead of random ones.</param>
    public static EfficientNetModel PretrainedLike(string variant, EfficientNetOptions options, int batches = 2, Tensor? images = null)
    {
        var model = EfficientNetModel.Create(variant, options);
        using var noGrad = no_grad();
        var norms = model.modules().OfType<NormBase>().ToList();
        foreach (var norm in norms)
        {
            norm.weight!.copy_(1 + 0.1 * randn(norm.weight.shape));
            norm.bias!.copy_(0.1 * randn(norm.bias.shape));
            norm.momentum = null;
        }
        model.train();
        for (int i = 0; i < batches; i++)
        {
            using var scope = NewDisposeScope();
            model.call(images ?? randn(4, 3, model.Resolution, model.Resolution));
        }
        foreach (var norm in norms)
        {
            norm.momentum = 0.1;
        }
        var logits = model.modules().OfType<Linear>().Last();
        double range = 1.0 / Math.Sqrt(logits.in_features);
        nn.init.uniform_(logits.weight, -range, range);
        nn.init.uniform_(logits.bias, -range, range);
        model.eval();
        return model;
    }

    /// <summary>flowers12's class names, in folder order.</summary>
    public static string[] FlowerClasses { get; } =
        Directory.GetDirectories(Path.Combine(TestPaths.SharedData, "flowers12", "train")).Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToArray();

    /// <summary>
    /// Writes a <see cref="PretrainedLike"/> B0 checkpoint for flowers12's 12 classes at 64x64 (ImageNet
    /// normalisation), its BatchNorm statistics measured on one training image of each class, to <paramref name="path"/>.
    /// </summary>
    public static string FlowersCheckpoint(string path)
    {
        manual_seed(5);
        var preprocessing = Preprocessing.ForResolution(64);
        using var scope = NewDisposeScope();
        // Materialised first: stack must not see tensors that nothing references any more.
        var samples = FlowerClasses
            .Select(c => ImageDecoder.Load(Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "train", c), "*.jpg").Order().First(), preprocessing))
            .ToArray();
        var images = stack(samples);
        using var model = PretrainedLike("b0", new EfficientNetOptions { NumClasses = FlowerClasses.Length, Resolution = 64 }, images: images);
        ModelCheckpoint.Save(model, path, FlowerClasses, Normalization.ImageNet);
        return path;
    }
}
