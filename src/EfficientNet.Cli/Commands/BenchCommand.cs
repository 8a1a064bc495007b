using System.CommandLine;
using EfficientNet.Architecture;
using EfficientNet.Cli.Benchmarks;
using EfficientNet.Cli.Output;
using EfficientNet.Inference.Engines;
using EfficientNet.Inference;
using EfficientNet.Models;
using EfficientNet.Onnx;
using EfficientNet.Runtime;
using EfficientNet.Training.Distributed;
using TorchSharp;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet bench</c>: throughput benchmarks (compare with bench/*.py on PyTorch).</summary>
internal static class BenchCommand
{
    public static Command Create(CliIO io)
    {
        var command = new Command("bench", "Measure throughput; bench/compare_infer.py runs the same work on PyTorch beside it");
        command.Subcommands.Add(Infer(io));
        command.Subcommands.Add(Predict(io));
        command.Subcommands.Add(Train(io));
        command.Subcommands.Add(Data(io));
        return command;
    }

    private static Command Data(CliIO io)
    {
        var data = new Option<string>("--data") { Description = "Image folder root/<class>/*.jpg or a list file of path,label rows", Required = true };
        var resolution = new Option<int>("--resolution") { Description = "Side of the random-resized crops", DefaultValueFactory = _ => 224 };
        var batch = new Option<int>("--batch", "-b") { Description = "Images per batch", DefaultValueFactory = _ => 32 };
        var seconds = new Option<double>("--seconds") { Description = "Timed seconds after one warm-up batch", DefaultValueFactory = _ => 20 };
        var workers = new Option<int>("--workers") { Description = "Decoding threads (0: one per core)", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command("data", "Streamed training input throughput: files read, decoded, random-resized-cropped, flipped and normalised per batch (bench/compare_data.py runs torchvision beside it)")
        {
            data, resolution, batch, seconds, workers, json,
        };
        command.SetAction(io.Guard(parse =>
        {
            var result = DataBenchmark.Run(parse.GetValue(data)!, parse.GetValue(resolution), parse.GetValue(batch), parse.GetValue(seconds), parse.GetValue(workers));
            if (parse.GetValue(json))
            {
                io.Json(new { resolution = parse.GetValue(resolution), batch = parse.GetValue(batch), result.Workers, result.Images, result.Seconds, result.ImagesPerSecond });
                return;
            }
            io.Out.WriteLine($"{Format.Fixed(result.ImagesPerSecond, 1)} images/s ({result.Images} images in {Format.Fixed(result.Seconds, 1)} s, {result.Workers} workers, {parse.GetValue(resolution)}x{parse.GetValue(resolution)})");
        }));
        return command;
    }

    private static Command Infer(CliIO io)
    {
        var variant = CommonOptions.Variant(required: false);
        variant.DefaultValueFactory = _ => "b0";
        var batch = new Option<int>("--batch", "-b") { Description = "Images per forward pass", DefaultValueFactory = _ => 16 };
        var seconds = new Option<double>("--seconds") { Description = "Timed seconds after warm-up", DefaultValueFactory = _ => 10 };
        var resolution = new Option<int?>("--resolution") { Description = "Input resolution (default: the variant's)" };
        var nchw = new Option<bool>("--nchw") { Description = "--engine torch: NCHW weights instead of channels-last" };
        var noFuse = new Option<bool>("--no-fuse") { Description = "--engine torch: keep BatchNorm separate instead of folding it into the convolutions" };
        var engine = CommonOptions.Engine();
        var onnx = new Option<string?>("--onnx") { Description = "onnxruntime engine: run this .onnx file (input 'input', output 'logits') instead of exporting the variant" };
        var threads = CommonOptions.Threads(withEngine: true);
        var workers = new Option<int>("--workers") { Description = "Forward passes run at once, each with threads / workers intra-op threads, as effnet serve --workers runs batches (ONNX Runtime engine)", DefaultValueFactory = _ => 1 };
        var device = CommonOptions.Device();
        var json = CommonOptions.Json();
        var command = new Command("infer", "Inference throughput of a variant (random weights and input) on TorchSharp or ONNX Runtime")
        {
            variant, batch, seconds, resolution, nchw, noFuse, engine, onnx, threads, workers, device, json,
        };
        command.SetAction(io.Guard(parse =>
        {
            int applied = io.ApplyThreads(parse.GetValue(threads));
            io.UseRetainingAllocator();
            var dev = ProcessResources.ParseDevice(parse.GetValue(device)!);
            string? onnxPath = parse.GetValue(onnx);
            var kind = ChooseEngine(parse.GetValue(engine), onnxPath, parse.GetValue(nchw) || parse.GetValue(noFuse), dev);
            (bool ChannelsLast, bool FuseBatchNorm) settings = (!parse.GetValue(nchw), !parse.GetValue(noFuse));
            int workerThreads = new Serving.ServingOptions { Model = "", Threads = applied, Workers = Math.Max(1, parse.GetValue(workers)) }.WorkerThreads;
            var (benchEngine, description, side) = OpenEngine(kind, onnxPath, parse.GetValue(variant)!, parse.GetValue(resolution), settings, workerThreads, dev);
            using var _ = benchEngine;
            var result = InferenceBenchmark.Run(benchEngine, side,
                new InferenceBenchmarkOptions { Batch = parse.GetValue(batch), Seconds = parse.GetValue(seconds), Variant = onnxPath is null ? parse.GetValue(variant) : null, Workers = parse.GetValue(workers) });
            bool torchEngine = kind == EngineKind.Torch;
            int threadCount = torchEngine ? TorchSharp.torch.get_num_threads() : applied;
            if (parse.GetValue(json))
            {
                io.Json(new
                {
                    variant = onnxPath is null ? Variants.Get(parse.GetValue(variant)!).Name : null,
                    onnx = onnxPath,
                    engine = kind.ToString().ToLowerInvariant(),
                    device = dev.type.ToString().ToLowerInvariant(),
                    result.Batch,
                    result.Resolution,
                    threads = threadCount,
                    result.Workers,
                    channelsLast = torchEngine ? settings.ChannelsLast : (bool?)null,
                    fuseBatchNorm = torchEngine ? settings.FuseBatchNorm : (bool?)null,
                    retainingAllocator = io.RetainingAllocator,
                    result.Iterations,
                    result.Seconds,
                    result.ImagesPerSecond,
                    result.MillisecondsPerBatch,
                });
                return;
            }
            io.Out.WriteLine($"{description} inference, batch {result.Batch}, {result.Resolution}x{result.Resolution}, {(threadCount == 0 ? "default" : threadCount.ToString(System.Globalization.CultureInfo.InvariantCulture))} threads{(result.Workers > 1 ? $" in {result.Workers} workers" : "")}, {(io.RetainingAllocator ? "retaining" : "system")} allocator");
            io.Out.WriteLine($"{Format.Fixed(result.ImagesPerSecond, 1)} images/s ({Format.Fixed(result.MillisecondsPerBatch, 1)} ms per batch, {result.Iterations} batches in {Format.Fixed(result.Seconds, 1)} s)");
        }));
        return command;
    }

    private static Command Predict(CliIO io)
    {
        var (weights, variant) = CommonOptions.Weights("This library's checkpoint, a torchvision-layout .pth / .safetensors state dict, or an .onnx file from effnet export");
        var image = new Option<string>("--image", "-i") { Description = "The image every call classifies", Required = true };
        var seconds = new Option<double>("--seconds") { Description = "Timed seconds after warm-up", DefaultValueFactory = _ => 10 };
        var engine = CommonOptions.Engine();
        var threads = CommonOptions.Threads(withEngine: true);
        var device = CommonOptions.Device();
        var json = CommonOptions.Json();
        var command = new Command("predict", "Latency of whole in-process predictions of one image (read, decode, preprocessing, one forward pass, top 5), as effnet serve answers one request; bench/serve_load.py runs both")
        {
            variant, weights, image, seconds, engine, threads, device, json,
        };
        command.SetAction(io.Guard(parse =>
        {
            int applied = io.ApplyThreads(parse.GetValue(threads));
            io.UseRetainingAllocator();
            using var classifier = Classifier.Open(parse.GetValue(weights)!, CommonOptions.ClassifierOptions(parse, engine, variant, threads, device, tta: null));
            var result = PredictBenchmark.Run(classifier, parse.GetValue(image)!, parse.GetValue(seconds));
            string engineName = classifier.Engine.Kind.ToString().ToLowerInvariant();
            if (parse.GetValue(json))
            {
                io.Json(new { engine = engineName, threads = applied, result.Calls, result.Seconds, result.MedianMilliseconds, result.MeanMilliseconds });
                return;
            }
            io.Out.WriteLine($"{engineName}, {applied} threads: median {Format.Fixed(result.MedianMilliseconds, 2)} ms, mean {Format.Fixed(result.MeanMilliseconds, 2)} ms per prediction ({result.Calls} in {Format.Fixed(result.Seconds, 1)} s)");
        }));
        return command;
    }

    /// <summary>The engine bench infer runs: as asked, else ONNX Runtime for an --onnx file, else the device's default; refuses switches of another engine.</summary>
    private static EngineKind ChooseEngine(EngineKind? requested, string? onnxPath, bool torchSwitches, TorchSharp.torch.Device device)
    {
        var kind = requested ?? (onnxPath is null ? Classifier.DefaultEngine(device) : EngineKind.OnnxRuntime);
        if (onnxPath is not null && kind != EngineKind.OnnxRuntime)
        {
            throw new EfficientNetException("--onnx runs on --engine onnxruntime");
        }
        if (kind != EngineKind.Torch && torchSwitches)
        {
            throw new EfficientNetException("--nchw and --no-fuse set up the torch engine; add --engine torch");
        }
        return kind;
    }

    private static (IClassifierEngine Engine, string Description, int Resolution) OpenEngine(
        EngineKind kind, string? onnxPath, string variant, int? resolution, (bool ChannelsLast, bool FuseBatchNorm) settings, int threads, TorchSharp.torch.Device device)
    {
        if (onnxPath is not null)
        {
            var file = OnnxRuntimeEngine.FromFile(onnxPath, threads);
            return (file, $"{onnxPath} on ONNX Runtime", resolution ?? file.Height);
        }
        var model = EfficientNetModel.Create(variant, new EfficientNetOptions { Resolution = resolution });
        int side = model.Resolution;
        if (kind == EngineKind.OnnxRuntime)
        {
            using (model)
            {
                return (OnnxRuntimeEngine.FromBytes(OnnxExporter.ToBytes(model, new OnnxExportOptions()), $"the export of {model.Spec.DisplayName}", threads),
                    $"{model.Spec.DisplayName} (effnet's ONNX export) on ONNX Runtime", side);
            }
        }
        model.to(device);
        return (new TorchEngine(model, settings.ChannelsLast, settings.FuseBatchNorm), $"{model.Spec.DisplayName} on TorchSharp, {(settings.ChannelsLast ? "channels-last" : "NCHW")}, BatchNorm {(settings.FuseBatchNorm ? "folded" : "separate")}, {device.type}", side);
    }

    private static Command Train(CliIO io)
    {
        var d = new TrainingBenchmarkOptions();
        var variant = CommonOptions.Variant(required: false);
        variant.DefaultValueFactory = _ => d.Variant;
        var batch = new Option<int>("--batch", "-b") { Description = "Images per step (in all: each process of an MPI job takes an equal share)", DefaultValueFactory = _ => d.Batch };
        var seconds = new Option<double>("--seconds") { Description = "Timed seconds for the throughput", DefaultValueFactory = _ => d.Seconds };
        var epochs = new Option<int>("--epochs") { Description = "Memory check: epochs after the timed part (0: skip)", DefaultValueFactory = _ => d.Epochs };
        var steps = new Option<int>("--steps") { Description = "Steps per memory-check epoch", DefaultValueFactory = _ => d.StepsPerEpoch };
        var nchw = new Option<bool>("--nchw") { Description = "NCHW input instead of channels-last" };
        var threads = CommonOptions.Threads(withEngine: false);
        var device = CommonOptions.Device();
        var json = CommonOptions.Json();
        var command = new Command("train", "Training throughput of the CIFAR variant (32x32, 10 classes, Adam, label smoothing, full step) and resident memory per epoch")
        {
            variant, batch, seconds, epochs, steps, nchw, threads, device, json,
        };
        command.SetAction(io.Guard(parse =>
        {
            io.ApplyThreads(parse.GetValue(threads) is > 0 and int chosen ? chosen : World.DefaultThreads);
            io.UseRetainingAllocator();
            var dev = ProcessResources.ParseDevice(parse.GetValue(device)!);
            var result = TrainingBenchmark.Run(new TrainingBenchmarkOptions
            {
                Variant = parse.GetValue(variant)!,
                Batch = parse.GetValue(batch),
                Seconds = parse.GetValue(seconds),
                Epochs = parse.GetValue(epochs),
                StepsPerEpoch = parse.GetValue(steps),
                ChannelsLast = !parse.GetValue(nchw),
            }, dev);
            if (parse.GetValue(json))
            {
                io.Json(new
                {
                    variant = parse.GetValue(variant),
                    result.Batch,
                    threads = TorchSharp.torch.get_num_threads(),
                    channelsLast = !parse.GetValue(nchw),
                    retainingAllocator = io.RetainingAllocator,
                    result.Processes,
                    result.Iterations,
                    result.Seconds,
                    result.ImagesPerSecond,
                    result.AllReduceShare,
                    residentMegabytes = result.ResidentMegabytes,
                    memoryGrowthPercent = result.MemoryGrowthPercent,
                });
                return;
            }
            WriteTraining(io, parse.GetValue(variant)!, parse.GetValue(nchw), result);
        }));
        return command;
    }

    private static void WriteTraining(CliIO io, string variant, bool nchw, TrainingBenchmarkResult result)
    {
        string processes = result.Processes == 1 ? "" : $", {World.Description}, {result.Batch / result.Processes} images each";
        io.Out.WriteLine($"CIFAR {variant} training step, batch {result.Batch}{processes}, {(nchw ? "NCHW" : "channels-last")} input, " +
            $"{TorchSharp.torch.get_num_threads()} threads{(result.Processes == 1 ? "" : " per process")}, {(io.RetainingAllocator ? "retaining" : "system")} allocator");
        io.Out.WriteLine($"{Format.Fixed(result.ImagesPerSecond, 1)} images/s ({result.Iterations} steps in {Format.Fixed(result.Seconds, 1)} s)" +
            (result.Processes == 1 ? "" : $"; summing gradients over the processes took {Format.Fixed(100 * result.AllReduceShare, 1)} % of it"));
        if (result.ResidentMegabytes.Count > 0)
        {
            io.Out.WriteLine($"resident memory after each epoch: {string.Join(", ", result.ResidentMegabytes.Select(m => Format.Fixed(m, 0) + " MiB"))} (growth after the first: {Format.Fixed(result.MemoryGrowthPercent, 2)} %)");
        }
    }
}
