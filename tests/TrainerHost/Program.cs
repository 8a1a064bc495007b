using System.Text.Json;
using System.Text.Json.Serialization;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;

// TrainerHost options.json run-folder: trains as Trainer.Train does for a library user (data-parallel under an MPI launcher).
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: TrainerHost options.json run-folder");
    return 2;
}
var json = new JsonSerializerOptions(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };
var options = JsonSerializer.Deserialize<TrainOptions>(File.ReadAllText(args[0]), json)!;
var result = Trainer.Train(options, args[1]);
Console.WriteLine($"epochs {result.History.Count}, validation accuracy {result.History[^1].ValAccuracy:F4}");
return 0;
