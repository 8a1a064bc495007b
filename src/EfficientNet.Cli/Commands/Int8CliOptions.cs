using System.CommandLine;
using EfficientNet.Data;
using EfficientNet.Inference;
using EfficientNet.Onnx;
using EfficientNet.Training.Evaluation;
using EfficientNet.Training.Options;
using static TorchSharp.torch;
using DataLoader = EfficientNet.Data.DataLoader;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet export --int8</c>'s options: what to calibrate on, how, and the accuracy gate.</summary>
internal sealed class Int8CliOptions
{
    private readonly Option<bool> int8 = new("--int8")
    {
        Description = "Write an INT8 model (QDQ: uint8 activations, int8 per-channel weights) calibrated on --calibrate, checked against the float model on the images after those",
    };

    private readonly Option<string?> calibrate = new("--calibrate")
    {
        Description = "Labelled images to calibrate and check on: a CIFAR-10 folder, an image folder root/<class>/*.jpg, or a list file of path,label rows (*.csv); shuffled with seed 0",
    };

    private readonly Option<DatasetKind> dataset = CommonOptions.DatasetOption(DatasetKind.Folder, "--calibrate");

    private readonly Option<Cifar10Split> split = new("--split")
    {
        Description = "CIFAR-10 split to calibrate and check on",
        DefaultValueFactory = _ => Cifar10Split.Train,
    };

    private readonly Option<int> calibrationImages = new("--calibration-images")
    {
        Description = "Images whose activations set the ranges",
        DefaultValueFactory = _ => new Int8ExportOptions().CalibrationImages,
    };

    private readonly Option<int> checkImages = new("--check-images")
    {
        Description = "Held-back images after those on which INT8 is compared with the float model (0: no check)",
        DefaultValueFactory = _ => new Int8ExportOptions().CheckImages,
    };

    private readonly Option<int> weightBits = new("--weight-bits")
    {
        Description = "Bits of the per-channel weights: 7 for x86 CPUs without VNNI (8-bit products saturate there), 8 for VNNI or ARM",
        DefaultValueFactory = _ => new Int8ExportOptions().WeightBits,
    };

    private readonly Option<CalibrationMethod> calibration = new("--calibration")
    {
        Description = "Activation ranges: percentile (clip at --percentile of absolute values) or minmax (loses tens of points on EfficientNet; for comparison)",
        DefaultValueFactory = _ => new Int8ExportOptions().Calibration,
    };

    private readonly Option<double> percentile = new("--percentile")
    {
        Description = "Percentile of absolute values each activation range is clipped at",
        DefaultValueFactory = _ => new Int8ExportOptions().Percentile,
    };

    private readonly Option<double> maxDrop = new("--max-drop")
    {
        Description = "Write nothing (exit 1) when INT8 loses more top-1 accuracy than this, in points, on the check images",
        DefaultValueFactory = _ => new Int8ExportOptions().MaxDrop,
    };

    private readonly Option<int> threads = CommonOptions.Threads(withEngine: false, "ONNX Runtime's intra-op threads for the calibration and the check (0: the default, one per physical core)");

    private Option[] All => [int8, calibrate, dataset, split, calibrationImages, checkImages, weightBits, calibration, percentile, maxDrop, threads];

    public void AddTo(Command command)
    {
        foreach (var option in All)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>Whether --int8 was given; without it, any other of these options is an error.</summary>
    public bool Requested(ParseResult parse)
    {
        if (parse.GetValue(int8))
        {
            if (parse.GetValue(calibrate) is null)
            {
                throw new EfficientNetException("--int8 needs --calibrate: labelled images like those the model will classify");
            }
            return true;
        }
        var given = All.Skip(1).FirstOrDefault(parse.IsGiven);
        return given is null ? false : throw new EfficientNetException($"{given.Name} applies to --int8 exports only");
    }

    /// <summary>
    /// The quantization options and the images to calibrate and check on. When --calibration-images and --check-images are
    /// both left at their defaults and the images are fewer than the two together, the images are split in two halves (the
    /// second checks), and <paramref name="notes"/> is told so; counts given on the command line are kept as given.
    /// </summary>
    public (Int8ExportOptions Options, IEnumerable<(Tensor Images, Tensor? Labels)> Images) Prepare(ParseResult parse, ClassifierInfo info, TextWriter notes)
    {
        string source = parse.GetValue(calibrate)!;
        var request = new EvaluationRequest(parse.Dataset(dataset, calibrate), source, parse.GetValue(split));
        var data = CheckpointEvaluation.Images(request, info.Preprocessing, classes: null);
        var options = new Int8ExportOptions
        {
            WeightBits = parse.GetValue(weightBits),
            Calibration = parse.GetValue(calibration),
            Percentile = parse.GetValue(percentile),
            CalibrationImages = parse.GetValue(calibrationImages),
            CheckImages = parse.GetValue(checkImages),
            MaxDrop = parse.GetValue(maxDrop),
            Threads = parse.GetValue(threads),
        };
        int wanted = options.CalibrationImages + options.CheckImages;
        if (data.Count < wanted)
        {
            if (parse.IsGiven(calibrationImages) || parse.IsGiven(checkImages) || data.Count < 2)
            {
                throw new EfficientNetException(
                    $"'{source}' has {data.Count} images, fewer than the {options.CalibrationImages} of --calibration-images and the {options.CheckImages} of --check-images together; " +
                    "lower them, leave both out to split the images in two halves, or give --check-images 0 to write the model unchecked");
            }
            options = options with { CheckImages = data.Count / 2, CalibrationImages = data.Count - data.Count / 2 };
            notes.WriteLine($"effnet: note: '{source}' has {data.Count} images, fewer than the {wanted} the defaults take: calibrating on {options.CalibrationImages} of them and checking on the other {options.CheckImages} (--calibration-images and --check-images choose)");
        }
        return (options, Batches(data, info));
    }

    /// <summary>
    /// The images in batches, shaped and normalised as the model's preprocessing says, shuffled with seed 0; labelled
    /// when their classes are the model's (a description without class names: when the counts agree), else not.
    /// </summary>
    private static IEnumerable<(Tensor Images, Tensor? Labels)> Batches(ImageDataset data, ClassifierInfo info)
    {
        bool labelled = info.ClassNames is null ? data.Classes.Count == info.NumClasses : data.Classes.SequenceEqual(info.ClassNames);
        var loader = new DataLoader(data, new LoaderOptions(BatchSize: 32, Shuffle: true, DropLast: false, Seed: 0, ChannelsLast: false), info.Preprocessing.Normalization);
        foreach (var batch in loader.Epoch(0))
        {
            using (batch)
            {
                yield return (batch.Images, labelled ? batch.Labels : null);
            }
        }
    }
}
