using System.CommandLine;
using EfficientNet.Cli.Output;
using EfficientNet.Data;
using EfficientNet.Inference;
using EfficientNet.Runtime;
using EfficientNet.Training.Evaluation;
using EfficientNet.Training.Options;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet evaluate</c>: accuracy, per-class accuracy and confusion matrix of a checkpoint.</summary>
internal static class EvaluateCommand
{
    public static Command Create(CliIO io)
    {
        var checkpoint = new Option<string>("--checkpoint", "-c") { Description = "A checkpoint written by effnet train (best.safetensors or last.safetensors), or its .onnx export", Required = true };
        var dataset = CommonOptions.DatasetOption(DatasetKind.Cifar10);
        var data = new Option<string?>("--data") { Description = "CIFAR-10 folder, image folder root/<class>/*.jpg, or a list file of path,label rows (*.csv) (cifar10 without --data: the download cache)" };
        var split = new Option<Cifar10Split>("--split") { Description = "CIFAR-10 split: test (test_batch.bin), train (data_batch_1..5) or validation (the 5,000 of train that effnet train holds out by default: 10% per class, seed 42)", DefaultValueFactory = _ => Cifar10Split.Test };
        var batch = new Option<int>("--batch", "-b") { Description = "Images per forward pass", DefaultValueFactory = _ => 256 };
        var plot = new Option<string?>("--plot") { Description = "Also draw the confusion matrix into this PNG file" };
        var variant = CommonOptions.Variant(required: false);
        var engine = CommonOptions.Engine();
        var tta = CommonOptions.Tta();
        var threads = CommonOptions.Threads(withEngine: true);
        var device = CommonOptions.Device();
        var json = CommonOptions.Json();
        var command = new Command("evaluate", "Accuracy, per-class accuracy and confusion matrix (text and PNG) of a checkpoint on a dataset")
        {
            checkpoint, variant, dataset, data, split, batch, plot, engine, tta, threads, device, json,
        };
        command.SetAction(io.Guard(parse =>
        {
            io.ApplyThreads(parse.GetValue(threads));
            io.UseRetainingAllocator();
            string path = parse.GetValue(checkpoint)!;
            var kind = parse.Dataset(dataset, data);
            if (kind == DatasetKind.Folder && parse.IsGiven(split))
            {
                throw new EfficientNetException("--split chooses a CIFAR-10 split; with --dataset folder, --data is the split (e.g. --data flowers/test)");
            }
            string splitName = kind == DatasetKind.Cifar10 ? parse.GetValue(split).ToString().ToLowerInvariant() : Path.GetFileName(Path.TrimEndingDirectorySeparator(parse.GetValue(data) ?? "folder"));
            var options = CommonOptions.ClassifierOptions(parse, engine, variant, threads, device, tta);
            var result = CheckpointEvaluation.Run(path, new EvaluationRequest(kind, parse.GetValue(data), parse.GetValue(split), parse.GetValue(batch)), options);
            string? plotPath = parse.GetValue(plot);
            if (plotPath is not null)
            {
                ConfusionMatrixPlot.Write(plotPath, result, $"{Path.GetFileName(path)} on {kind.ToString().ToLowerInvariant()} {splitName}");
            }
            string engineName = Classifier.EngineFor(path, options.Engine, options.Device).ToString().ToLowerInvariant();
            if (parse.GetValue(json))
            {
                WriteJson(io, result, plotPath, engineName, options.TestTimeAugmentation);
                return;
            }
            WriteTables(io, result, $"{kind.ToString().ToLowerInvariant()} {splitName}", plotPath, options.TestTimeAugmentation, engineName);
        }));
        return command;
    }

    private static void WriteJson(CliIO io, EvaluationResult result, string? plotPath, string engine, TestTimeAugmentation tta)
    {
        var perClass = result.PerClassAccuracy;
        io.Json(new
        {
            result.Accuracy,
            result.Loss,
            result.Count,
            result.Classes,
            perClassAccuracy = result.Classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => perClass[x.i]),
            confusion = Enumerable.Range(0, result.Classes.Count).Select(t => Enumerable.Range(0, result.Classes.Count).Select(p => result.Confusion[t, p]).ToArray()),
            confusionPlot = plotPath,
            engine,
            tta = tta.ToString().ToLowerInvariant(),
        });
    }

    private static void WriteTables(CliIO io, EvaluationResult result, string dataDescription, string? plotPath, TestTimeAugmentation tta, string engine)
    {
        var perClass = result.PerClassAccuracy;
        string augmented = tta == TestTimeAugmentation.Flip ? ", each averaged with its mirror (--tta flip)" : "";
        io.Out.WriteLine($"accuracy {result.Accuracy:P2} on {result.Count} images ({dataDescription}){augmented}, loss {result.Loss:F4}, engine {engine}");
        io.Out.WriteLine();
        var perClassTable = new TextTable("class", ">accuracy", ">images");
        for (int i = 0; i < result.Classes.Count; i++)
        {
            perClassTable.Add(result.Classes[i], Format.Fixed(100 * perClass[i], 2) + " %", Enumerable.Range(0, result.Classes.Count).Sum(p => result.Confusion[i, p]));
        }
        perClassTable.Write(io.Out);
        io.Out.WriteLine();
        io.Out.WriteLine("confusion matrix (rows: true class, columns: predicted):");
        var confusion = new TextTable(result.Classes.Select(c => ">" + c).Prepend("true \\ predicted").ToArray());
        for (int t = 0; t < result.Classes.Count; t++)
        {
            confusion.Add(new object?[] { result.Classes[t] }.Concat(Enumerable.Range(0, result.Classes.Count).Select(p => (object?)result.Confusion[t, p])).ToArray());
        }
        confusion.Write(io.Out);
        if (plotPath is not null)
        {
            io.Out.WriteLine();
            io.Out.WriteLine($"confusion matrix chart: {plotPath}");
        }
    }
}
