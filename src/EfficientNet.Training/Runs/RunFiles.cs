namespace EfficientNet.Training.Runs;

/// <summary>File names inside a run folder.</summary>
public static class RunFiles
{
    /// <summary>The resolved options (JSON).</summary>
    public const string Options = "options.json";

    /// <summary>Per-epoch metrics.</summary>
    public const string History = "history.csv";

    /// <summary>Training checkpoint after the latest epoch (or interruption): model, optimizer, state.</summary>
    public const string Last = "last.safetensors";

    /// <summary>Model checkpoint of the best validation accuracy.</summary>
    public const string Best = "best.safetensors";

    /// <summary>The model a finished run ends with (see <see cref="Running.TrainingResult.FinalModelPath"/>).</summary>
    public const string Final = "final.safetensors";

    /// <summary>
    /// Unreadable images the run skipped (<see cref="Options.ImageReading.SkipBadImages"/>), CSV rows <c>epoch,split,path,reason</c>;
    /// epoch 0 is the decoding of a set held in memory. Written only when there are some.
    /// </summary>
    public const string BadImages = "bad-images.csv";
}
