using System.CommandLine;
using EfficientNet.Cli.Output;
using EfficientNet.Imaging;
using EfficientNet.Inference;
using EfficientNet.Weights;
using EfficientNet.Runtime;
using TorchSharp;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet predict</c>: top-k classes of one image.</summary>
internal static class PredictCommand
{
    public static Command Create(CliIO io)
    {
        var variant = CommonOptions.Variant(required: false);
        variant.Description += " (required for plain PyTorch state dicts; checkpoints record it)";
        var weights = new Option<string>("--weights", "-w") { Description = "Weights: this library's checkpoint, or a torchvision-layout .pth / .safetensors state dict", Required = true };
        var image = new Option<string>("--image", "-i") { Description = "Image file (JPEG, PNG, WebP, BMP, GIF)", Required = true };
        var top = new Option<int>("--top") { Description = "How many classes to show", DefaultValueFactory = _ => 5 };
        var labels = new Option<string?>("--labels") { Description = "Class names, one per line (default: the checkpoint's)" };
        var device = CommonOptions.Device();
        var json = CommonOptions.Json();
        var command = new Command("predict", "Classify an image: decode, resize and centre-crop to the model's resolution, ImageNet normalisation, top-k")
        {
            variant, weights, image, top, labels, device, json,
        };
        command.SetAction(io.Guard(parse =>
        {
            io.UseRetainingAllocator();
            var dev = Devices.Parse(parse.GetValue(device)!);
            using var loaded = ModelLoader.Load(parse.GetValue(weights)!, new LoadOptions { Variant = parse.GetValue(variant) });
            loaded.Model.to(dev);
            InferenceOptimizer.Prepare(loaded.Model, new InferenceSettings());
            var names = parse.GetValue(labels) is { } path ? Predictor.ReadLabels(path) : loaded.ClassNames;
            // Preprocessing travels with the weights: a checkpoint records its normalisation; official
            // torchvision files are recognised by their published hash and get their preset.
            var official = loaded.Format == WeightsFormat.PyTorch || loaded.Normalization is null ? PretrainedRegistry.Identify(parse.GetValue(weights)!) : null;
            var preprocessing = official is not null && official.Variant == loaded.Model.Spec.Name
                ? official.Preprocessing
                : Preprocessing.ForResolution(loaded.Model.Resolution, loaded.Normalization);
            var predictions = Predictor.Predict(loaded.Model, parse.GetValue(image)!, parse.GetValue(top), names, preprocessing);
            if (parse.GetValue(json))
            {
                io.Json(predictions);
                return;
            }
            var table = new TextTable(">rank", ">index", "label", ">probability");
            int rank = 1;
            foreach (var p in predictions)
            {
                table.Add(rank++, p.Index, p.Label ?? "-", Format.Fixed(p.Probability, 4));
            }
            table.Write(io.Out);
        }));
        return command;
    }
}
