using System.CommandLine;
using EfficientNet.Data.Augmentation;

namespace EfficientNet.Cli.Commands;

/// <summary>
/// The augmentation options of <c>train</c> and <c>finetune</c>, defined once. An option not given keeps the value of
/// the options it is read over (a recipe's, else <see cref="AugmentationOptions"/>'s defaults, the document's pipeline).
/// </summary>
internal sealed class AugmentationCliOptions
{
    private readonly Option<bool> noFlip = new("--no-flip") { Description = "No random horizontal flips" };
    private readonly Option<double> rotation = new("--rotation") { Description = "Largest rotation in turns (document recipe: 0.1; fast: 0)" };
    private readonly Option<double> zoom = new("--zoom") { Description = "Largest relative zoom (document recipe: 0.1; fast: 0)" };
    private readonly Option<double> translation = new("--translation") { Description = "Largest shift as a fraction of the size (document recipe: 0.1; fast: 0)" };
    private readonly Option<double> contrast = new("--contrast") { Description = "Largest relative contrast change (document recipe: 0.1; fast: 0)" };
    private readonly Option<int> cropPadding = new("--crop-padding") { Description = "Random crop after reflect padding by this many pixels, 0: off (document recipe: 0; fast: 4)" };
    private readonly Option<int> cutout = new("--cutout") { Description = "Side in pixels of a grey square hidden in each image, 0: off (both recipes: 0; 16 is the paper's CIFAR-10 setting)" };
    private readonly Option<AutoAugmentKind> policy = new("--auto-augment") { Description = "none, randaugment or trivialaugment (both recipes: none)" };
    private readonly Option<double> mixup = new("--mixup") { Description = "Mixup Beta alpha, 0: off (both recipes: 0)" };
    private readonly Option<double> cutmix = new("--cutmix") { Description = "CutMix Beta alpha, 0: off (both recipes: 0)" };
    private readonly Option<bool> none = new("--no-augment") { Description = "No augmentation at all" };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { noFlip, rotation, zoom, translation, contrast, cropPadding, cutout, policy, mixup, cutmix, none })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The augmentation: <paramref name="basis"/> (default: the document's pipeline) with the options given on the command line.</summary>
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
