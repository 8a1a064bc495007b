using System.CommandLine;
using EfficientNet.Cli.Output;
using EfficientNet.Training.Transfer;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet finetune</c>: two-phase transfer learning (<see cref="FineTuner"/>); defaults from <see cref="FineTuneOptions"/>.</summary>
internal static class FineTuneCommand
{
    public static Command Create(CliIO io)
    {
        var d = new FineTuneOptions();
        var (weights, variant) = CommonOptions.Weights("Pretrained weights: an effnet checkpoint or a torchvision-layout .pth / .safetensors");
        var dataset = CommonOptions.DatasetOption(d.Dataset);
        var data = new Option<string?>("--data") { Description = "Training images: root/<class>/*.jpg, a list file of path,label rows (*.csv), or a CIFAR-10 folder" };
        var valData = new Option<string?>("--val-data") { Description = "Validation/test images with the same classes, a folder or a list file (gets a full final evaluation); else --val-fraction" };
        var valFraction = new Option<double>("--val-fraction") { Description = "Held-out share when there is no --val-data", DefaultValueFactory = _ => d.ValFraction };
        var resolution = new Option<int?>("--resolution") { Description = "Input size (default: the pretrained checkpoint's, else the variant's)" };
        var head = CommonOptions.Head(d.Head, "The new head");
        var phase1Epochs = new Option<int>("--phase1-epochs") { Description = "Head-only epochs", DefaultValueFactory = _ => d.Phase1Epochs };
        var phase1Lr = new Option<double>("--phase1-lr") { Description = "Head-only learning rate (Adam)", DefaultValueFactory = _ => d.Phase1LearningRate };
        var cacheFeatures = new Option<bool>("--cache-features") { Description = "Phase 1 on backbone features computed once (much faster on a CPU; no augmentation in phase 1)" };
        var unfreeze = new Option<int>("--unfreeze") { Description = "Backbone layers unfrozen in phase 2 (0: skip phase 2)", DefaultValueFactory = _ => d.Unfreeze };
        var phase2Epochs = new Option<int>("--phase2-epochs") { Description = "Fine-tuning epochs", DefaultValueFactory = _ => d.Phase2Epochs };
        var phase2Lr = new Option<double>("--phase2-lr") { Description = "Fine-tuning learning rate (Adam)", DefaultValueFactory = _ => d.Phase2LearningRate };
        var trainBatchNorm = new Option<bool>("--train-batchnorm") { Description = "Phase 2 trains the unfrozen BatchNorm layers instead of keeping them in inference mode (Keras's tutorial); better for images unlike the pretraining ones with much of the backbone unfrozen" };
        var batch = new Option<int>("--batch", "-b") { Description = "Batch size (in all: each process of an MPI job takes an equal share)", DefaultValueFactory = _ => d.BatchSize };
        var smoothing = new Option<double>("--label-smoothing") { Description = "Label smoothing", DefaultValueFactory = _ => d.LabelSmoothing };
        var seed = new Option<int>("--seed") { Description = "Seed", DefaultValueFactory = _ => d.Seed };
        var threads = CommonOptions.Threads(withEngine: false);
        var device = CommonOptions.Device();
        var output = new Option<string?>("--out", "-o") { Description = "Run folder (default: runs/finetune-<time>); phase1/ and phase2/ inside" };
        var augmentation = new AugmentationCliOptions(recipes: false);
        var images = new ImageReadingCliOptions();
        var command = new Command("finetune", "Transfer learning: train a new head on the frozen pretrained backbone, then fine-tune its last layers with a low learning rate")
        {
            variant, weights, dataset, data, valData, valFraction, resolution, head, phase1Epochs, phase1Lr, cacheFeatures, unfreeze, phase2Epochs, phase2Lr, trainBatchNorm,
            batch, smoothing, seed, threads, device, output,
        };
        augmentation.AddTo(command);
        images.AddTo(command);
        command.SetAction(io.Guard(parse =>
        {
            io.UseRetainingAllocator();
            var options = new FineTuneOptions
            {
                Weights = parse.GetValue(weights)!,
                Variant = parse.GetValue(variant),
                Dataset = parse.Dataset(dataset, data),
                Data = parse.GetValue(data),
                ValData = parse.GetValue(valData),
                ValFraction = parse.GetValue(valFraction),
                Resolution = parse.GetValue(resolution),
                Head = CommonOptions.HeadKindOf(parse.GetValue(head)!),
                Phase1Epochs = parse.GetValue(phase1Epochs),
                Phase1LearningRate = parse.GetValue(phase1Lr),
                CacheFeatures = parse.GetValue(cacheFeatures),
                Unfreeze = parse.GetValue(unfreeze),
                Phase2Epochs = parse.GetValue(phase2Epochs),
                Phase2LearningRate = parse.GetValue(phase2Lr),
                TrainBatchNorm = parse.GetValue(trainBatchNorm),
                BatchSize = parse.GetValue(batch),
                LabelSmoothing = parse.GetValue(smoothing),
                Seed = parse.GetValue(seed),
                Threads = parse.GetValue(threads),
                Device = parse.GetValue(device)!,
                Augmentation = augmentation.Read(parse),
                Images = images.Read(parse),
            };
            string runDirectory = parse.GetValue(output) ?? Path.Combine("runs", $"finetune-{DateTime.Now:yyyyMMdd-HHmmss}");
            var observer = io.TrainingObserver();
            var result = CliIO.WithInterruption(token => FineTuner.Run(options, runDirectory, observer, token));
            io.Out.WriteLine($"phase 1: {result.Phase1.History.Count} epochs, final validation accuracy {result.Phase1.History[^1].ValAccuracy:P2}");
            if (result.Phase2 is { } phase2)
            {
                io.Out.WriteLine($"phase 2: {phase2.History.Count} epochs, final validation accuracy {phase2.History[^1].ValAccuracy:P2}");
            }
            io.Out.WriteLine($"final model {result.FinalModel}: accuracy {result.FinalAccuracy:P2}{(options.ValData is { } v ? $" on {v}" : "")}");
        }));
        return command;
    }
}
