using EfficientNet.Imaging;
using EfficientNet.Models;
using static TorchSharp.torch;

namespace EfficientNet.Inference;

/// <summary>One class of a top-k prediction.</summary>
/// <param name="Index">Class index (the classifier's output row).</param>
/// <param name="Label">Class name, when known.</param>
/// <param name="Probability">Softmax probability.</param>
public sealed record Prediction(int Index, string? Label, double Probability);

/// <summary>Classifies image files with a model, in evaluation mode and without gradients.</summary>
public static class Predictor
{
    /// <summary>The <paramref name="top"/> most probable classes of the image at <paramref name="imagePath"/>, best first.</summary>
    /// <param name="model">The classifier; it is switched to evaluation mode.</param>
    /// <param name="imagePath">Image file.</param>
    /// <param name="top">How many classes to return (at most the class count).</param>
    /// <param name="labels">Class names, one per class, or null.</param>
    /// <param name="preprocessing">Resize, crop and normalisation; by default the model's resolution with ImageNet statistics.</param>
    public static IReadOnlyList<Prediction> Predict(EfficientNetModel model, string imagePath, int top = 5, IReadOnlyList<string>? labels = null, Preprocessing? preprocessing = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (top <= 0)
        {
            throw new EfficientNetException($"--top must be positive, got {top}");
        }
        if (labels is not null && labels.Count != model.NumClasses)
        {
            throw new EfficientNetException($"{labels.Count} labels given for a model with {model.NumClasses} classes");
        }
        preprocessing ??= Preprocessing.ForResolution(model.Resolution);
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = model.parameters().First().device;
        var input = ImageDecoder.Load(imagePath, preprocessing).unsqueeze(0).to(device);
        var probabilities = nn.functional.softmax(model.call(input), 1)[0].cpu();
        var (values, indices) = probabilities.topk(Math.Min(top, model.NumClasses));
        float[] p = values.data<float>().ToArray();
        long[] idx = indices.data<long>().ToArray();
        return idx.Select((index, i) => new Prediction((int)index, labels?[(int)index], p[i])).ToArray();
    }

    /// <summary>Reads a labels file: one class name per line, blank lines ignored.</summary>
    public static IReadOnlyList<string> ReadLabels(string path)
    {
        if (!File.Exists(path))
        {
            throw new EfficientNetException($"labels file not found: '{path}'");
        }
        return File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
    }
}
