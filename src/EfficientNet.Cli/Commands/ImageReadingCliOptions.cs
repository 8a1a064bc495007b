using System.CommandLine;
using EfficientNet.Training.Options;

namespace EfficientNet.Cli.Commands;

/// <summary>How <c>train</c> and <c>finetune</c> read image folders and lists, defined once.</summary>
internal sealed class ImageReadingCliOptions
{
    private readonly Option<ImageCache> cache = new("--image-cache")
    {
        Description = "Image folders and lists: memory (decoded once), none (read from the files every batch: any size, and random-resized crops), " +
            "or auto (memory when the decoded images fit in half of the memory available)",
        DefaultValueFactory = _ => ImageCache.Auto,
    };

    private readonly Option<bool?> randomResizedCrop = new("--random-resized-crop")
    {
        Description = "Streamed training images as random-resized crops of the full photo and flips (torchvision's; default: on at 128 pixels or more); validation takes the centre square",
    };

    private readonly Option<int> workers = new("--workers") { Description = "Threads decoding streamed images (0: one per core)", DefaultValueFactory = _ => 0 };

    private readonly Option<bool> skipBadImages = new("--skip-bad-images")
    {
        Description = "Go on past unreadable images (a streamed one is replaced by the next image of its list, one held in memory is left out); " +
            "they are listed in the run folder's bad-images.csv and counted per epoch in history.csv",
    };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { cache, randomResizedCrop, workers, skipBadImages })
        {
            command.Options.Add(option);
        }
    }

    public ImageReading Read(ParseResult parse) => new()
    {
        Cache = parse.GetValue(cache),
        RandomResizedCrop = parse.GetValue(randomResizedCrop),
        Workers = parse.GetValue(workers),
        SkipBadImages = parse.GetValue(skipBadImages),
    };

    /// <summary>--skip-bad-images when given (to change a resumed run), else null.</summary>
    public bool? SkipBadImagesGiven(ParseResult parse) => parse.Given(skipBadImages);

    /// <summary>--workers when given (to change a resumed run), else null.</summary>
    public int? WorkersGiven(ParseResult parse) => parse.Given(workers);
}
