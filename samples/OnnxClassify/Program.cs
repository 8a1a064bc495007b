// Classifies an image with an EfficientNet exported by `effnet export --preprocess`: the graph takes
// uint8 RGB pixels at the model's resolution and returns probabilities; its metadata says how large
// the image must be and what the classes are. Usage: OnnxClassify model.onnx image.jpg
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: OnnxClassify model.onnx image.jpg");
    return 1;
}

foreach (string file in args.Where(f => !File.Exists(f)))
{
    Console.Error.WriteLine($"OnnxClassify: '{file}' not found");
    return 1;
}
using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
using var session = new InferenceSession(args[0], options);
var metadata = session.ModelMetadata.CustomMetadataMap;
if (!session.InputMetadata.ContainsKey("image") || !metadata.TryGetValue("resize", out string? resizeText) || !metadata.TryGetValue("crop", out string? cropText))
{
    Console.Error.WriteLine($"OnnxClassify: '{args[0]}' takes '{string.Join("', '", session.InputMetadata.Keys)}', not uint8 RGB pixels: export it with effnet export --preprocess");
    return 1;
}
int resize = int.Parse(resizeText, CultureInfo.InvariantCulture);
int crop = int.Parse(cropText, CultureInfo.InvariantCulture);
string[] classes = metadata.TryGetValue("class_names", out string? names) ? JsonSerializer.Deserialize<string[]>(names) ?? [] : [];

// Resize the shorter side to "resize" (bicubic), then take the centre "crop" square as RGB bytes.
using var image = SKBitmap.Decode(args[1]);
if (image is null)
{
    Console.Error.WriteLine($"OnnxClassify: '{args[1]}' is not an image SkiaSharp can decode");
    return 1;
}
double scale = (double)resize / Math.Min(image.Width, image.Height);
var size = new SKImageInfo(
    image.Width <= image.Height ? resize : (int)Math.Round(image.Width * scale),
    image.Height < image.Width ? resize : (int)Math.Round(image.Height * scale),
    SKColorType.Rgba8888,
    SKAlphaType.Unpremul);
using var resized = image.Width == size.Width && image.Height == size.Height ? image.Copy() : image.Resize(size, new SKSamplingOptions(SKCubicResampler.CatmullRom));
int left = (resized.Width - crop) / 2, top = (resized.Height - crop) / 2;
var pixels = new byte[crop * crop * 3];
for (int y = 0; y < crop; y++)
{
    for (int x = 0; x < crop; x++)
    {
        var color = resized.GetPixel(left + x, top + y);
        int i = 3 * (y * crop + x);
        (pixels[i], pixels[i + 1], pixels[i + 2]) = (color.Red, color.Green, color.Blue);
    }
}

using var input = OrtValue.CreateTensorValueFromMemory(pixels, [1, crop, crop, 3]);
using var run = new RunOptions();
using var outputs = session.Run(run, ["image"], [input], ["probabilities"]);
float[] probabilities = outputs[0].GetTensorDataAsSpan<float>().ToArray();
foreach (var (probability, index) in probabilities.Select((p, i) => (p, i)).OrderByDescending(t => t.p).Take(5))
{
    Console.WriteLine(FormattableString.Invariant($"{(index < classes.Length ? classes[index] : index.ToString(CultureInfo.InvariantCulture))}\t{probability:F6}"));
}
return 0;
