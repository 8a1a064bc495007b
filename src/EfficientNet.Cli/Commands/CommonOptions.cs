using System.CommandLine;
using EfficientNet.Architecture;
using EfficientNet.Inference;
using EfficientNet.Models;
using EfficientNet.Runtime;
using EfficientNet.Training.Options;

namespace EfficientNet.Cli.Commands;

/// <summary>Options several verbs share, defined once so their names and help agree.</summary>
internal static class CommonOptions
{
    public static Option<bool> Json() => new("--json") { Description = "Print JSON instead of a table" };

    public static Option<string> Variant(bool required) => new("--variant", "-v")
    {
        Description = $"Model variant: {string.Join(", ", Variants.Names)}",
        Required = required,
    };

    /// <summary>--weights and the --variant that plain state dicts need, for verbs that read a weights file.</summary>
    public static (Option<string> Weights, Option<string> Variant) Weights(string description)
    {
        var variant = Variant(required: false);
        variant.Description += " (required for plain PyTorch state dicts; this library's checkpoints and exports record it)";
        return (new Option<string>("--weights", "-w") { Description = description, Required = true }, variant);
    }

    /// <summary>--head, the classifier a verb builds (<paramref name="what"/>): simple or mlp; read it with <see cref="HeadKindOf"/>.</summary>
    public static Option<string> Head(HeadKind defaultHead, string what)
    {
        var option = new Option<string>("--head")
        {
            Description = $"{what}: simple (dropout + linear) or mlp (Keras's tutorial head: BN, Dropout 0.3, Dense 256 SiLU, Dropout 0.2, Dense n)",
            DefaultValueFactory = _ => defaultHead == HeadKind.Linear ? "simple" : "mlp",
        };
        option.AcceptOnlyFromAmong("simple", "mlp");
        return option;
    }

    /// <summary>The <see cref="HeadKind"/> a --head value names.</summary>
    public static HeadKind HeadKindOf(string head) => head == "simple" ? HeadKind.Linear : HeadKind.Mlp;

    /// <summary>
    /// --threads; <paramref name="withEngine"/>: the verb has --engine, so the threads may be ONNX Runtime's;
    /// <paramref name="description"/>: whose threads they are, where neither says it.
    /// </summary>
    public static Option<int> Threads(bool withEngine, string? description = null)
    {
        var option = new Option<int>("--threads")
        {
            Description = description ?? $"Intra-op threads (libtorch's{(withEngine ? ", and ONNX Runtime's with --engine onnxruntime" : "")}; 0: the default, one per physical core)",
            DefaultValueFactory = _ => 0,
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is var threads and < 0)
            {
                result.AddError($"--threads must be 0 (the default) or positive, got {threads}");
            }
        });
        return option;
    }

    public static Option<EngineKind?> Engine() => new("--engine")
    {
        Description = "torch (TorchSharp) or onnxruntime (ONNX Runtime on the model's ONNX export); default: onnxruntime on the CPU, torch on --device cuda",
    };

    public static Option<TestTimeAugmentation> Tta() => new("--tta")
    {
        Description = "Test-time augmentation: none, or flip (the mean of the probabilities of each image and its mirror; two forward passes)",
        DefaultValueFactory = _ => TestTimeAugmentation.None,
    };

    /// <summary>The options that open a classifier (<see cref="Classifier.Open"/>), read from a parse; without <paramref name="tta"/>, none.</summary>
    public static ClassifierOptions ClassifierOptions(ParseResult parse, Option<EngineKind?> engine, Option<string> variant, Option<int> threads, Option<string> device, Option<TestTimeAugmentation>? tta) => new()
    {
        Engine = parse.GetValue(engine),
        TestTimeAugmentation = tta is null ? TestTimeAugmentation.None : parse.GetValue(tta),
        Variant = parse.GetValue(variant),
        Threads = parse.GetValue(threads),
        Device = ProcessResources.ParseDevice(parse.GetValue(device)!),
        ExportCache = ExportCache,
    };

    /// <summary>Where predict and evaluate keep the ONNX exports of weights files (see <see cref="ClassifierOptions.ExportCache"/>).</summary>
    public static string ExportCache { get; } = Path.Combine(EfficientNet.Weights.PretrainedRegistry.DefaultCacheDirectory, "onnx");

    public static Option<string> Device() => new("--device")
    {
        Description = "cpu or cuda (cuda needs a CUDA build of TorchSharp)",
        DefaultValueFactory = _ => "cpu",
    };

    /// <summary>--dataset, for verbs that read a dataset (see <see cref="Dataset(ParseResult, Option{EfficientNet.Training.Options.DatasetKind}, Option{string?})"/>).</summary>
    public static Option<EfficientNet.Training.Options.DatasetKind> DatasetOption(EfficientNet.Training.Options.DatasetKind withoutData, string dataFlag = "--data") => new("--dataset")
    {
        Description = $"cifar10 or folder (image folder or list file); default: what {dataFlag} holds, or {withoutData.ToString().ToLowerInvariant()} without {dataFlag}",
        DefaultValueFactory = _ => withoutData,
    };

    /// <summary>
    /// --dataset when given; else what --data holds: CIFAR-10 when it is a folder of CIFAR-10's batch files, an image
    /// folder or list file when it is any other folder or file; without --data (or with one that is not there), the verb's default.
    /// </summary>
    public static EfficientNet.Training.Options.DatasetKind Dataset(this ParseResult parse, Option<EfficientNet.Training.Options.DatasetKind> dataset, Option<string?> data)
    {
        if (parse.IsGiven(dataset) || parse.GetValue(data) is not { } path)
        {
            return parse.GetValue(dataset);
        }
        if (!(File.Exists(path) || Directory.Exists(path)))
        {
            // Nothing to tell the kind by: say what is missing, not what one kind would have needed.
            throw new EfficientNetException($"{data.Name} '{path}' not found: pass a CIFAR-10 folder (data_batch_N.bin), a folder of class folders or a .csv list of path,label rows");
        }
        return EfficientNet.Data.Cifar10.HoldsBatches(path) ? EfficientNet.Training.Options.DatasetKind.Cifar10 : EfficientNet.Training.Options.DatasetKind.Folder;
    }

    /// <summary>The option's value when the command line gives it, else <paramref name="fallback"/> (a recipe's value).</summary>
    public static T GivenOr<T>(this ParseResult parse, Option<T> option, T fallback) =>
        parse.IsGiven(option) ? parse.GetValue(option)! : fallback;

    /// <summary>The option's value when the command line gives it, else null (e.g. to change a resumed run only where asked).</summary>
    public static T? Given<T>(this ParseResult parse, Option<T> option) where T : struct =>
        parse.IsGiven(option) ? parse.GetValue(option) : null;

    /// <summary>Whether the command line gives the option (rather than its default applying).</summary>
    public static bool IsGiven(this ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };
}
