using System.CommandLine;
using EfficientNet.Cli.Output;
using EfficientNet.Training.Transfer;

namespace EfficientNet.Cli.Commands;

/// <summary>
/// <c>effnet finetune</c>: two-phase transfer learning (<see cref="FineTuner"/>); its base takes the training options it
/// shares with <c>train</c> from the same table (<see cref="TrainingOptionBindings"/>), defaults from <see cref="FineTuneOptions"/>.
/// </summary>
internal static class FineTuneCommand
{
    public static Command Create(CliIO io)
    {
        var d = new FineTuneOptions();
        var bindings = TrainingOptionBindings.For(TrainingVerb.FineTune, d.Base);
        var dataset = CommonOptions.DatasetOption(d.Base.Dataset);
        var phase1Epochs = new Option<int>("--phase1-epochs") { Description = "Head-only epochs", DefaultValueFactory = _ => d.Phase1Epochs };
        var phase1Lr = new Option<double>("--phase1-lr") { Description = "Head-only learning rate (Adam)", DefaultValueFactory = _ => d.Phase1LearningRate };
        var unfreeze = new Option<int>("--unfreeze") { Description = "Backbone layers unfrozen in phase 2 (0: skip phase 2)", DefaultValueFactory = _ => d.Unfreeze };
        var phase2Epochs = new Option<int>("--phase2-epochs") { Description = "Fine-tuning epochs", DefaultValueFactory = _ => d.Phase2Epochs };
        var phase2Lr = new Option<double>("--phase2-lr") { Description = "Fine-tuning learning rate (Adam)", DefaultValueFactory = _ => d.Phase2LearningRate };
        var trainBatchNorm = new Option<bool>("--train-batchnorm") { Description = "Phase 2 trains the unfrozen BatchNorm layers instead of keeping them in inference mode (Keras's tutorial); better for images unlike the pretraining ones with much of the backbone unfrozen" };
        var output = new Option<string?>("--out", "-o") { Description = "Run folder (default: runs/finetune-<time>); phase1/ and phase2/ inside" };
        var augmentation = new AugmentationCliOptions(recipes: false);
        var images = new ImageReadingCliOptions();
        var command = new Command("finetune", "Transfer learning: train a new head on the frozen pretrained backbone, then fine-tune its last layers with a low learning rate")
        {
            dataset, phase1Epochs, phase1Lr, unfreeze, phase2Epochs, phase2Lr, trainBatchNorm, output,
        };
        foreach (var binding in bindings)
        {
            command.Options.Add(binding.Option);
        }
        augmentation.AddTo(command);
        images.AddTo(command);
        command.SetAction(io.Guard(parse =>
        {
            io.UseRetainingAllocator();
            var options = new FineTuneOptions
            {
                Base = bindings.Apply(d.Base, parse) with
                {
                    Dataset = parse.Dataset(dataset, bindings.Get<string?>("--data")),
                    Augmentation = augmentation.Read(parse),
                    Images = images.Read(parse),
                },
                Phase1Epochs = parse.GetValue(phase1Epochs),
                Phase1LearningRate = parse.GetValue(phase1Lr),
                Unfreeze = parse.GetValue(unfreeze),
                Phase2Epochs = parse.GetValue(phase2Epochs),
                Phase2LearningRate = parse.GetValue(phase2Lr),
                TrainBatchNorm = parse.GetValue(trainBatchNorm),
            };
            string runDirectory = parse.GetValue(output) ?? Path.Combine("runs", $"finetune-{DateTime.Now:yyyyMMdd-HHmmss}");
            var result = CliIO.WithInterruption(token => FineTuner.Run(options, runDirectory, io.TrainingObserver(), token));
            io.Out.WriteLine($"phase 1: {result.Phase1.History.Count} epochs, final validation accuracy {result.Phase1.History[^1].ValAccuracy:P2}");
            if (result.Phase2 is { } phase2)
            {
                io.Out.WriteLine($"phase 2: {phase2.History.Count} epochs, final validation accuracy {phase2.History[^1].ValAccuracy:P2}");
            }
            io.Out.WriteLine($"final model {result.FinalModel}: accuracy {result.FinalAccuracy:P2}{(options.Base.ValData is { } v ? $" on {v}" : "")}");
        }));
        return command;
    }
}
