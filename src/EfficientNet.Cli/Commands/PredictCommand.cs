using System.CommandLine;
using EfficientNet.Cli.Output;
using EfficientNet.Inference.Batch;
using EfficientNet.Inference;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet predict</c>: top-k classes of one image, or of a folder or list of images into a file.</summary>
internal static class PredictCommand
{
    public static Command Create(CliIO io)
    {
        var (weights, variant) = CommonOptions.Weights("This library's checkpoint, a torchvision-layout .pth / .safetensors state dict, or an .onnx file from effnet export");
        var image = new Option<string?>("--image", "-i") { Description = "One image file (JPEG, PNG, WebP, BMP, GIF)" };
        var images = new Option<string?>("--images") { Description = "A folder (searched recursively) or a text file listing one image path per line; needs --out" };
        var output = new Option<string?>("--out", "-o") { Description = "Predictions file for --images: .csv or .jsonl; re-running with the same file skips the images it holds" };
        var batch = new Option<int>("--batch", "-b") { Description = "Images per forward pass (--images)", DefaultValueFactory = _ => 16 };
        var shard = new Option<string?>("--shard") { Description = "K/N: only the K-th of N equal parts of the sorted listing (--images; for N machines)" };
        var top = new Option<int>("--top") { Description = "How many classes to show", DefaultValueFactory = _ => 5 };
        var allowFailures = new Option<bool>("--allow-failures")
        {
            Description = "--images: exit 0 even when some images cannot be read (their rows hold the error); by default such a run writes every row, then exits 1",
        };
        var labels = new Option<string?>("--labels") { Description = "Class names, one per line (default: the checkpoint's)" };
        var engine = CommonOptions.Engine();
        var tta = CommonOptions.Tta();
        var threads = CommonOptions.Threads(withEngine: true);
        var device = CommonOptions.Device();
        var json = CommonOptions.Json();
        var command = new Command("predict", "Classify images with the preprocessing the weights expect (resize, centre crop, normalisation): one --image, or --images into --out")
        {
            variant, weights, image, images, output, batch, shard, top, allowFailures, labels, engine, tta, threads, device, json,
        };
        command.SetAction(io.Guard(parse =>
        {
            string? one = parse.GetValue(image);
            string? many = parse.GetValue(images);
            string? outPath = parse.GetValue(output);
            CheckImageOptions(one, many, outPath, parse.GetValue(shard), parse.GetValue(allowFailures));
            var shardValue = parse.GetValue(shard) is { } text ? Shard.Parse(text) : (Shard?)null;
            if (outPath is not null)
            {
                BatchPrediction.CheckOutput(outPath);
            }
            io.ApplyThreads(parse.GetValue(threads));
            io.UseRetainingAllocator();
            var options = CommonOptions.ClassifierOptions(parse, engine, variant, threads, device, tta) with
            {
                Labels = parse.GetValue(labels) is { } labelsPath ? Classifier.ReadLabels(labelsPath) : null,
            };
            using var classifier = Classifier.Open(parse.GetValue(weights)!, options);
            if (many is not null)
            {
                PredictMany(io, classifier, many, outPath!, new BatchPredictionOptions { Batch = parse.GetValue(batch), Top = parse.GetValue(top), Shard = shardValue }, parse.GetValue(json), options.TestTimeAugmentation, parse.GetValue(allowFailures));
                return;
            }
            PredictOne(io, classifier.Predict(one!, parse.GetValue(top)), classifier.Engine.Kind, parse.GetValue(json));
        }));
        return command;
    }

    /// <summary>One of --image and --images; --out with --images only, where it is required, and --shard and --allow-failures likewise.</summary>
    private static void CheckImageOptions(string? one, string? many, string? outPath, string? shard, bool allowFailures)
    {
        if ((one is null) == (many is null))
        {
            throw new EfficientNetException("pass either --image FILE or --images DIR|LIST.txt --out FILE");
        }
        if (many is not null && outPath is null)
        {
            throw new EfficientNetException("--images needs --out predictions.csv (or .jsonl)");
        }
        if (many is null && (outPath is not null || shard is not null || allowFailures))
        {
            throw new EfficientNetException("--out, --shard and --allow-failures go with --images");
        }
    }

    private static void PredictOne(CliIO io, IReadOnlyList<Prediction> predictions, EngineKind engine, bool json)
    {
        if (json)
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
        io.Out.WriteLine($"engine: {engine.ToString().ToLowerInvariant()}");
    }

    private static void PredictMany(CliIO io, Classifier classifier, string source, string output, BatchPredictionOptions options, bool json, TestTimeAugmentation tta, bool allowFailures)
    {
        var progress = new ProgressLine(io.Err);
        var summary = CliIO.WithInterruption(token => BatchPrediction.Run(classifier, source, output, options, progress, token));
        if (json)
        {
            io.Json(new
            {
                summary.Output,
                summary.Listed,
                shard = options.Shard?.ToString(),
                summary.InShard,
                summary.AlreadyWritten,
                summary.Predicted,
                failed = summary.Failures.Count,
                failures = summary.Failures.Select(f => new { f.Path, f.Error }),
                summary.Seconds,
                summary.ImagesPerSecond,
                summary.Interrupted,
                engine = classifier.Engine.Kind.ToString().ToLowerInvariant(),
                tta = tta.ToString().ToLowerInvariant(),
            });
        }
        else
        {
            io.Out.WriteLine($"{summary.Predicted} images classified, {summary.Failures.Count} failed, {summary.AlreadyWritten} already in {output} " +
                $"({summary.InShard} in {(options.Shard is { } s ? $"shard {s} of {summary.Listed}" : "the listing")}; {Format.Fixed(summary.ImagesPerSecond, 1)} images/s, {classifier.Engine.Kind.ToString().ToLowerInvariant()})");
            foreach (var failure in summary.Failures)
            {
                io.Out.WriteLine($"  failed: {failure.Path}: {failure.Error}");
            }
        }
        if (summary.Interrupted)
        {
            throw new OperationCanceledException($"stopped after {summary.Predicted + summary.Failures.Count} images; the rows are in {output}: run the same command again to continue");
        }
        if (summary.Failures.Count > 0 && !allowFailures)
        {
            throw new EfficientNetException(
                $"{summary.Failures.Count} of {summary.Predicted + summary.Failures.Count} images could not be read; their rows in {output} hold why (--allow-failures exits 0 when that is expected)");
        }
    }

    /// <summary>Progress on stderr: a line at every tenth of the work.</summary>
    private sealed class ProgressLine(TextWriter writer) : IProgress<(int Done, int Total, int Failed, double Seconds)>
    {
        private int shownTenths;

        public void Report((int Done, int Total, int Failed, double Seconds) value)
        {
            int tenths = value.Total == 0 ? 10 : 10 * value.Done / value.Total;
            if (tenths <= shownTenths && value.Done < value.Total)
            {
                return;
            }
            shownTenths = tenths;
            writer.WriteLine($"predict: {value.Done}/{value.Total} images, {value.Failed} failed, {Format.Fixed(value.Done / Math.Max(value.Seconds, 1e-9), 1)} images/s");
        }
    }
}
