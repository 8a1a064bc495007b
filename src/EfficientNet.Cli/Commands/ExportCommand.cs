using System.CommandLine;
using EfficientNet.Cli.Output;
using EfficientNet.Imaging;
using EfficientNet.Inference;
using EfficientNet.Onnx;
using EfficientNet.Weights;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet export</c>: a weights file to an ONNX model (<see cref="OnnxExporter"/>).</summary>
internal static class ExportCommand
{
    public static Command Create(CliIO io)
    {
        var (weights, variant) = CommonOptions.Weights("Weights: this library's checkpoint, or a torchvision-layout .pth / .safetensors state dict");
        var output = new Option<string>("--out", "-o") { Description = "The .onnx file to write (its folder must exist; written atomically)", Required = true };
        var resolution = new Option<int?>("--resolution") { Description = "Input resolution of the graph (default: the checkpoint's, else the variant's or the official weights' crop)" };
        var opset = new Option<int>("--opset") { Description = $"ONNX opset, {OnnxExportOptions.MinOpset} to {OnnxExportOptions.MaxOpset}", DefaultValueFactory = _ => OnnxExportOptions.DefaultOpset };
        var batch = new Option<int?>("--batch", "-b") { Description = "Fix the batch size (default: a symbolic 'batch' dimension)" };
        var preprocess = new Option<bool>("--preprocess")
        {
            Description = "The graph takes 'image' uint8 [batch, H, W, 3] RGB at the model's resolution, normalises it itself and outputs 'probabilities'",
        };
        var json = CommonOptions.Json();
        var int8 = new Int8CliOptions();
        var command = new Command("export", "Export a model to ONNX: input 'input' float32 [batch, 3, H, W] (normalised as the weights expect), output 'logits'; metadata describes the model")
        {
            variant, weights, output, resolution, opset, batch, preprocess, json,
        };
        int8.AddTo(command);
        command.SetAction(io.Guard(parse =>
        {
            string path = parse.GetValue(output)!;
            CliIO.RequireOutputFolder(path, ".onnx");
            bool quantize = int8.Requested(parse);
            string source = parse.GetValue(weights)!;
            using var loaded = ModelLoader.Load(source, new LoadOptions { Variant = parse.GetValue(variant) });
            var info = ClassifierInfo.FromWeights(source, loaded, recordSha256: true);
            if (parse.GetValue(resolution) is int side && side != info.Resolution)
            {
                loaded.Model.SetResolution(side);
                info = info with { Preprocessing = Preprocessing.ForResolution(side, info.Preprocessing.Normalization) };
            }
            var options = new OnnxExportOptions
            {
                Opset = parse.GetValue(opset),
                Batch = parse.GetValue(batch),
                Preprocess = parse.GetValue(preprocess),
                Info = info,
            };
            Int8Report? report = null;
            if (quantize)
            {
                var (int8Options, images) = int8.Prepare(parse, info, io.Err);
                report = OnnxExporter.ExportInt8(loaded.Model, path, options, int8Options, images);
            }
            else
            {
                OnnxExporter.Export(loaded.Model, path, options);
            }
            if (parse.GetValue(json))
            {
                WriteJson(io, path, options, info, report);
                return;
            }
            WriteSummary(io, path, options, info, report);
        }));
        return command;
    }

    private static void WriteJson(CliIO io, string path, OnnxExportOptions options, ClassifierInfo info, Int8Report? report) => io.Json(new
    {
        output = path,
        bytes = new FileInfo(path).Length,
        options.Opset,
        batch = options.Batch,
        options.Preprocess,
        input = options.Preprocess ? OnnxExporter.ImageName : OnnxExporter.InputName,
        outputName = options.Preprocess ? OnnxExporter.ProbabilitiesName : OnnxExporter.LogitsName,
        int8 = report is null ? null : new
        {
            report.CalibrationImages,
            report.CheckImages,
            report.Agreement,
            report.FloatAccuracy,
            report.Int8Accuracy,
            report.Drop,
            report.Options.WeightBits,
            calibration = report.Options.Calibration.ToString().ToLowerInvariant(),
            report.Options.Percentile,
        },
        metadata = (options.Preprocess ? info with { PreprocessingInGraph = true } : info).ToMetadata().ToDictionary(kv => kv.Key, kv => kv.Value),
    });

    private static void WriteSummary(CliIO io, string path, OnnxExportOptions options, ClassifierInfo info, Int8Report? report)
    {
        long bytes = new FileInfo(path).Length;
        io.Out.WriteLine($"{info.Model} -> {path} ({Format.Fixed(bytes / 1048576.0, 1)} MiB{(report is null ? "" : ", INT8")}, opset {options.Opset}, batch {options.Batch?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "dynamic"})");
        if (report is not null)
        {
            WriteReport(io, report);
        }
        io.Out.WriteLine(options.Preprocess
            ? $"input '{OnnxExporter.ImageName}' uint8 [batch, {info.Resolution}, {info.Resolution}, 3] RGB -> output '{OnnxExporter.ProbabilitiesName}' [batch, {info.NumClasses}]"
            : $"input '{OnnxExporter.InputName}' float32 [batch, 3, {info.Resolution}, {info.Resolution}] ({info.Preprocessing.Normalization}) -> output '{OnnxExporter.LogitsName}' [batch, {info.NumClasses}]");
    }

    private static void WriteReport(CliIO io, Int8Report report)
    {
        var o = report.Options;
        string ranges = o.Calibration == CalibrationMethod.Percentile ? $"{o.Percentile.ToString(System.Globalization.CultureInfo.InvariantCulture)}th percentile" : "min/max";
        io.Out.WriteLine($"calibrated on {report.CalibrationImages} images ({ranges} ranges, {o.WeightBits}-bit weights)");
        if (report.CheckImages == 0)
        {
            io.Out.WriteLine("not checked (--check-images 0)");
            return;
        }
        string accuracy = report.FloatAccuracy is double f && report.Int8Accuracy is double q
            ? $"top-1 accuracy float {Format.Fixed(100 * f, 2)}%, INT8 {Format.Fixed(100 * q, 2)}%; "
            : "the images' classes are not the model's, so no accuracy; ";
        io.Out.WriteLine($"checked on {report.CheckImages} held-back images: {accuracy}top-1 agreement {Format.Fixed(100 * report.Agreement!.Value, 2)}% (drop {Format.Fixed(report.Drop, 2)} points, at most {Format.Fixed(o.MaxDrop, 2)})");
    }
}
