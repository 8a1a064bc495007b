using System.CommandLine;
using EfficientNet.Data.Augmentation;

namespace EfficientNet.Cli.Commands;

/// <summary>The augmentation options of <c>train</c> and <c>finetune</c>, defined once; defaults from <see cref="AugmentationOptions"/>.</summary>
internal sealed class AugmentationCliOptions
{
    private static readonly AugmentationOptions Defaults = new();

    private readonly Option<bool> noFlip = new("--no-flip") { Description = "No random horizontal flips" };
    private readonly Option<double> rotation = new("--rotation") { Description = "Largest rotation in turns", DefaultValueFactory = _ => Defaults.Rotation };
    private readonly Option<double> zoom = new("--zoom") { Description = "Largest relative zoom", DefaultValueFactory = _ => Defaults.Zoom };
    private readonly Option<double> translation = new("--translation") { Description = "Largest shift as a fraction of the size", DefaultValueFactory = _ => Defaults.Translation };
    private readonly Option<double> contrast = new("--contrast") { Description = "Largest relative contrast change", DefaultValueFactory = _ => Defaults.Contrast };
    private readonly Option<int> cropPadding = new("--crop-padding") { Description = "Random crop after zero padding by this many pixels (0: off)", DefaultValueFactory = _ => Defaults.CropPadding };
    private readonly Option<AutoAugmentKind> policy = new("--auto-augment") { Description = "none, randaugment or trivialaugment", DefaultValueFactory = _ => Defaults.Policy };
    private readonly Option<double> mixup = new("--mixup") { Description = "Mixup Beta alpha (0: off)", DefaultValueFactory = _ => Defaults.Mixup };
    private readonly Option<double> cutmix = new("--cutmix") { Description = "CutMix Beta alpha (0: off)", DefaultValueFactory = _ => Defaults.Cutmix };
    private readonly Option<bool> none = new("--no-augment") { Description = "No augmentation at all" };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { noFlip, rotation, zoom, translation, contrast, cropPadding, policy, mixup, cutmix, none })
        {
            command.Options.Add(option);
        }
    }

    public AugmentationOptions Read(ParseResult parse) => parse.GetValue(none) ? AugmentationOptions.None : new AugmentationOptions
    {
        Flip = !parse.GetValue(noFlip),
        Rotation = parse.GetValue(rotation),
        Zoom = parse.GetValue(zoom),
        Translation = parse.GetValue(translation),
        Contrast = parse.GetValue(contrast),
        CropPadding = parse.GetValue(cropPadding),
        Policy = parse.GetValue(policy),
        Mixup = parse.GetValue(mixup),
        Cutmix = parse.GetValue(cutmix),
    };
}
