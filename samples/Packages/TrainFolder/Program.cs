// Trains an EfficientNet-B0 from scratch on an image folder (root/<class>/*.jpg), briefly and at a low
// resolution, and prints where the best model is. Usage: TrainFolder IMAGE_ROOT RUN_DIR [EPOCHS]
using System.Globalization;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;

if (args.Length is < 2 or > 3)
{
    Console.Error.WriteLine("usage: TrainFolder IMAGE_ROOT RUN_DIR [EPOCHS]");
    return 1;
}

var options = new TrainOptions
{
    Dataset = DatasetKind.Folder,
    Data = args[0],
    Variant = "b0",
    Resolution = 64,
    Epochs = args.Length == 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1,
    BatchSize = 32,
    WarmupEpochs = 0,
};
var result = Trainer.Train(options, args[1]);
foreach (var epoch in result.History)
{
    Console.WriteLine(FormattableString.Invariant($"epoch {epoch.Epoch}: train loss {epoch.TrainLoss:F4}, validation accuracy {epoch.ValAccuracy:P2}"));
}
Console.WriteLine(result.BestModelPath);
return 0;
