using System.CommandLine;
using EfficientNet.Data.Augmentation;

namespace EfficientNet.Cli.Commands;

/// <summary>
/// The augmentation options of <c>train</c> and <c>finetune</c>, defined once. An option not given keeps the value of
/// the options it is read over (a recipe's, else <see cref="AugmentationOptions"/>'s defaults, the Keras recipe's pipeline).
/// </summary>
internal sealed class AugmentationCliOptions
{
    private readonly Option<bool> noFlip, none;
    private readonly Option<double> rotation, zoom, translation, contrast, mixup, cutmix;
    private readonly Option<int> cropPadding, cutout;
    private readonly Option<AutoAugmentKind> policy;

    /// <param name="recipes">Whether the verb has recipes (train): defaults are then stated per recipe, else as <see cref="AugmentationOptions"/>'s.</param>
    public AugmentationCliOptions(bool recipes)
    {
        // The keras recipe's values are AugmentationOptions' defaults.
        string Default(object keras, object fast)
        {
            string d = Convert.ToString(keras, System.Globalization.CultureInfo.InvariantCulture)!, f = Convert.ToString(fast, System.Globalization.CultureInfo.InvariantCulture)!;
            return !recipes ? $"default: {d}" : d == f ? $"both recipes: {d}" : $"keras recipe: {d}; fast: {f}";
        }
        noFlip = new("--no-flip") { Description = "No random horizontal flips" };
        rotation = new("--rotation") { Description = $"Largest rotation in turns ({Default(0.1, 0)})" };
        zoom = new("--zoom") { Description = $"Largest relative zoom ({Default(0.1, 0)})" };
        translation = new("--translation") { Description = $"Largest shift as a fraction of the size ({Default(0.1, 0)})" };
        contrast = new("--contrast") { Description = $"Largest relative contrast change ({Default(0.1, 0)})" };
        cropPadding = new("--crop-padding") { Description = $"Random crop after reflect padding by this many pixels, 0: off ({Default(0, 4)})" };
        cutout = new("--cutout") { Description = $"Side in pixels of a grey square hidden in each image, 0: off ({Default(0, 0)}; 16 is the paper's CIFAR-10 setting)" };
        policy = new("--auto-augment") { Description = $"none, randaugment or trivialaugment ({Default("none", "none")})" };
        mixup = new("--mixup") { Description = $"Mixup Beta alpha, 0: off ({Default(0, 0)})" };
        cutmix = new("--cutmix") { Description = $"CutMix Beta alpha, 0: off ({Default(0, 0)})" };
        none = new("--no-augment") { Description = "No augmentation at all" };
    }

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { noFlip, rotation, zoom, translation, contrast, cropPadding, cutout, policy, mixup, cutmix, none })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The augmentation: <paramref name="basis"/> (default: the Keras recipe's pipeline) with the options given on the command line.</summary>
    public AugmentationOptions Read(ParseResult parse, AugmentationOptions? basis = null)
    {
        if (parse.GetValue(none))
        {
            return AugmentationOptions.None;
        }
        basis ??= new AugmentationOptions();
        return basis with
        {
            Flip = basis.Flip && !parse.GetValue(noFlip),
            Rotation = parse.GivenOr(rotation, basis.Rotation),
            Zoom = parse.GivenOr(zoom, basis.Zoom),
            Translation = parse.GivenOr(translation, basis.Translation),
            Contrast = parse.GivenOr(contrast, basis.Contrast),
            CropPadding = parse.GivenOr(cropPadding, basis.CropPadding),
            Cutout = parse.GivenOr(cutout, basis.Cutout),
            Policy = parse.GivenOr(policy, basis.Policy),
            Mixup = parse.GivenOr(mixup, basis.Mixup),
            Cutmix = parse.GivenOr(cutmix, basis.Cutmix),
        };
    }
}
