// Classifies an image with an EfficientNet.NET checkpoint (or a torchvision state dict, or an exported .onnx):
// Classifier.Open reads the variant, classes and preprocessing the file records.
// Usage: Classify WEIGHTS IMAGE [TOP]
using System.Globalization;
using EfficientNet.Inference;

if (args.Length is < 2 or > 3)
{
    Console.Error.WriteLine("usage: Classify WEIGHTS IMAGE [TOP]");
    return 1;
}
int top = args.Length == 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5;

using var classifier = Classifier.Open(args[0]);
Console.WriteLine($"{classifier.Info.Variant} at {classifier.Info.Preprocessing.CropSize}x{classifier.Info.Preprocessing.CropSize}, {classifier.Info.NumClasses} classes, on {classifier.Engine.Kind}");
foreach (var prediction in classifier.Predict(args[1], top))
{
    Console.WriteLine(FormattableString.Invariant($"{prediction.Label ?? prediction.Index.ToString(CultureInfo.InvariantCulture)}\t{prediction.Probability:F6}"));
}
return 0;
