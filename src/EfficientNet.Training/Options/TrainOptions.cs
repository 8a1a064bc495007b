using System.Text.Json.Serialization;
using EfficientNet.Data;
using EfficientNet.Data.Augmentation;
using EfficientNet.Training.Running;
using EfficientNet.Training.Runs;

namespace EfficientNet.Training.Options;

/// <summary>Where training images come from.</summary>
public enum DatasetKind
{
    /// <summary>CIFAR-10 binary batches (a local folder, or downloaded into the cache).</summary>
    Cifar10,

    /// <summary>An image folder (root/&lt;class&gt;/*.jpg) or a list file of path,label rows.</summary>
    Folder,
}

/// <summary>Whether an image folder or list is decoded once into memory or read from its files every epoch.</summary>
public enum ImageCache
{
    /// <summary>In memory when the decoded images take at most half of the memory available at the start, else streamed.</summary>
    Auto,

    /// <summary>Decoded once, resized to the training resolution and kept in memory (fastest; the set must fit).</summary>
    Memory,

    /// <summary>Read, decoded and shaped per batch by worker threads: memory holds batches, not the set, and training images can be random-resized crops of the full photo.</summary>
    None,
}

/// <summary>How an image folder or list is read (CIFAR-10 is always held in memory).</summary>
public sealed record ImageReading
{
    /// <summary>Kept in memory, streamed from the files, or (auto) whichever the memory available allows.</summary>
    [PerProcess]
    public ImageCache Cache { get; init; } = ImageCache.Auto;

    /// <summary>
    /// Training images as random-resized crops of the full photo and flips (torchvision's RandomResizedCrop: 8–100% of the
    /// area, aspect ratio 3/4–4/3) instead of the centre square; null: on at 128 pixels or more, unless <see cref="Cache"/>
    /// is memory or the features are cached, whatever the memory available (the trainer records the answer in
    /// options.json). True streams the images. Validation images always take the centre square.
    /// </summary>
    public bool? RandomResizedCrop { get; init; }

    /// <summary>Threads decoding streamed images (0: one per logical core).</summary>
    [PerProcess]
    public int Workers { get; init; }

    /// <summary>
    /// Go on past images that cannot be read (truncated, not an image, removed during the run) instead of stopping:
    /// a streamed one is replaced in its batch by the next readable image of the list, one of a set held in memory is
    /// left out when the set is decoded. Each is listed in the run folder's bad-images.csv, and history.csv counts
    /// them per epoch. Off: the first unreadable image stops the run with its path.
    /// </summary>
    public bool SkipBadImages { get; init; }
}

/// <summary>The optimizers <see cref="Trainer"/> can use.</summary>
public enum OptimizerKind
{
    /// <summary>Adam (Kingma &amp; Ba); weight decay is L2 added to the gradient.</summary>
    Adam,

    /// <summary>AdamW (Loshchilov &amp; Hutter): decoupled weight decay.</summary>
    AdamW,

    /// <summary>SGD with momentum (and optionally Nesterov).</summary>
    Sgd,
}

/// <summary>Learning-rate schedules, stepped every batch.</summary>
public enum ScheduleKind
{
    /// <summary>Linear warmup from 0, then cosine decay to the minimum (Keras's CosineDecay with warmup).</summary>
    Cosine,

    /// <summary>The base rate throughout (reduce-on-plateau may still lower it).</summary>
    Constant,

    /// <summary>Linear warmup from 0, then a straight line down to 0 at the end of the last step (the fast recipe's).</summary>
    Linear,
}

/// <summary>Named sets of every training option (<see cref="TrainOptions.FromRecipe"/>); each option can still be changed on its own.</summary>
public enum TrainRecipe
{
    /// <summary>The CIFAR-10 recipe of Keras's EfficientNet tutorial: Adam with warm-up and cosine decay, Keras's augmentation layers, 100 epochs with early stopping (the <see cref="TrainOptions"/> defaults).</summary>
    Keras,

    /// <summary>
    /// A standard SGD recipe for CIFAR-sized images in 30 epochs: Nesterov SGD at 0.1 with 2 warmup epochs and a
    /// linear decay to 0, weight decay 5e-4 on convolution and linear weights, reflect-padded random crops (4 pixels)
    /// and flips, label smoothing 0.1, dropout 0.2, no stochastic depth, an exponential moving average of the weights
    /// (decay 0.999) as the model, no early stopping or plateau reduction, and the last epoch's model as the result.
    /// CIFAR-10 is upsampled to 48x48 (the last stages then see 6x6 and 3x3 maps instead of 4x4 and 2x2); what each
    /// resolution reaches is measured in docs/cifar10-results.md.
    /// </summary>
    Fast,
}

/// <summary>
/// Every setting of a training run, with the Keras tutorial's CIFAR-10 recipe (<see cref="TrainRecipe.Keras"/>) as defaults: CIFAR
/// variant of B0, batch 128, Adam with 5 warmup epochs of 100 then cosine decay, label smoothing 0.1,
/// the Keras augmentation pipeline, early stopping on validation accuracy (patience 15, best weights
/// kept) and reduce-on-plateau on validation loss (factor 0.5, patience 5, minimum 1e-6). One
/// deliberate difference: the peak learning rate is 0.002, not the tutorial's 0.01, which diverged early in a
/// pilot (docs/training.md). Printed at the start and saved as options.json in the run folder.
/// <c>FromRecipe(TrainRecipe.Fast, dataset)</c> gives the better recipe, the tool's default.
/// </summary>
public sealed record TrainOptions
{
    /// <summary>Dataset kind.</summary>
    public DatasetKind Dataset { get; init; } = DatasetKind.Cifar10;

    /// <summary>CIFAR-10 folder (the .bin files) or image-folder root; null for CIFAR-10 means the download cache.</summary>
    [PerProcess]
    public string? Data { get; init; }

    /// <summary>A separate validation folder (image folders) — else <see cref="ValFraction"/> of the training data.</summary>
    [PerProcess]
    public string? ValData { get; init; }

    /// <summary>How image folders and lists are read: kept in memory or streamed, and how streamed images are cropped.</summary>
    public ImageReading Images { get; init; } = new();

    /// <summary>Share of each class held out for validation when no validation data is given.</summary>
    public double ValFraction { get; init; } = DatasetSplit.DefaultValidationFraction;

    /// <summary>Where CIFAR-10 is downloaded to when <see cref="Data"/> is not given.</summary>
    [PerProcess]
    public string CacheDirectory { get; init; } = EfficientNet.Data.Cifar10.DefaultCacheDirectory;

    /// <summary>Model variant; null: the initial weights' variant, else b0.</summary>
    public string? Variant { get; init; }

    /// <summary>CIFAR stem (stride 1); null: the initial weights' setting, else on for CIFAR-10 and off for folders.</summary>
    [JsonPropertyName("cifar")] // the name options.json files written before the rename hold
    public bool? CifarStem { get; init; }

    /// <summary>Input resolution; null: the initial weights' resolution, else 32 for CIFAR-10 and the variant's for folders.</summary>
    public int? Resolution { get; init; }

    /// <summary>
    /// Start from these weights (a checkpoint of this library, or a torchvision state dict) instead of a random
    /// initialisation. The model keeps the stochastic depth it was built with, and its classifier unless
    /// <see cref="ReplaceHead"/>; <see cref="Variant"/>, <see cref="CifarStem"/> and <see cref="Resolution"/> default to a checkpoint's.
    /// </summary>
    [PerProcess]
    public string? InitialWeights { get; init; }

    /// <summary>Drop the initial weights' classifier and train a fresh <see cref="Head"/> for the dataset's classes.</summary>
    public bool ReplaceHead { get; init; }

    /// <summary>The classifier head for a new model or a replaced head (<see cref="ReplaceHead"/>).</summary>
    public Models.HeadKind Head { get; init; } = Models.HeadKind.Linear;

    /// <summary>What to freeze (transfer learning); nothing by default.</summary>
    public Models.FreezeSpec Freeze { get; init; } = Models.FreezeSpec.None;

    /// <summary>
    /// Train the head on backbone features computed once at the start (needs <see cref="Freeze"/> to freeze the whole
    /// backbone; no augmentation). On a CPU many times faster than sending every image through the backbone each epoch.
    /// </summary>
    public bool CachedFeatures { get; init; }

    /// <summary>Dropout before a <see cref="Models.HeadKind.Linear"/> classifier of a new model or a replaced head; null: the variant's.</summary>
    public double? Dropout { get; init; }

    /// <summary>Stochastic-depth rate of the last block of a new model (not one started from <see cref="InitialWeights"/>).</summary>
    public double StochasticDepth { get; init; } = 0.2;

    /// <summary>Epochs to train (early stopping may end sooner).</summary>
    public int Epochs { get; init; } = 100;

    /// <summary>Images per batch.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Optimizer.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Peak learning rate (see the type's remarks for why 0.002).</summary>
    public double LearningRate { get; init; } = 0.002;

    /// <summary>
    /// Weight decay, applied to convolution and linear weights only: BatchNorm scales and shifts and biases (every
    /// parameter with fewer than 2 dimensions) are not decayed.
    /// </summary>
    public double WeightDecay { get; init; }

    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Nesterov momentum for SGD.</summary>
    public bool Nesterov { get; init; }

    /// <summary>Learning-rate schedule.</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Cosine;

    /// <summary>Linear warmup length in epochs (cosine and linear schedules).</summary>
    public double WarmupEpochs { get; init; } = 5;

    /// <summary>Label smoothing of the cross-entropy loss.</summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>Early stopping on validation accuracy: epochs without improvement (0: off).</summary>
    public int EarlyStoppingPatience { get; init; } = 15;

    /// <summary>
    /// When training ends, final.safetensors (<see cref="RunFiles.Final"/>) holds the best epoch's weights (by
    /// validation accuracy); false: the last epoch's.
    /// </summary>
    public bool RestoreBestWeights { get; init; } = true;

    /// <summary>Reduce-on-plateau on validation loss: epochs without improvement before reducing (0: off).</summary>
    public int PlateauPatience { get; init; } = 5;

    /// <summary>Factor the learning rate is multiplied by on a plateau.</summary>
    public double PlateauFactor { get; init; } = 0.5;

    /// <summary>The learning rate never goes below this.</summary>
    public double MinLearningRate { get; init; } = 1e-6;

    /// <summary>
    /// Decay of an exponential moving average of the weights and BatchNorm statistics, updated after every step
    /// (0: off). When on, the average is the model that is validated and saved as best and final (last.safetensors
    /// holds both, to resume). Early on the decay is min(this, (1 + steps) / (10 + steps)), so the random
    /// initialisation fades quickly.
    /// </summary>
    public double EmaDecay { get; init; }

    /// <summary>Training augmentation.</summary>
    public AugmentationOptions Augmentation { get; init; } = new();

    /// <summary>Seeds model initialisation, data order and augmentation.</summary>
    public int Seed { get; init; } = DatasetSplit.DefaultSeed;

    /// <summary>libtorch intra-op threads (0: libtorch's default).</summary>
    [PerProcess]
    public int Threads { get; init; }

    /// <summary>"cpu" or "cuda".</summary>
    [PerProcess]
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// Processes the run trains on, data-parallel (each takes an equal share of every batch of <see cref="BatchSize"/>
    /// images): set by the trainer from the MPI launcher that started it (1 without one) and recorded in options.json.
    /// </summary>
    public int Processes { get; init; } = 1;

    /// <summary>NHWC layout for the input batches (oneDNN then runs its NHWC kernels; faster on CPU).</summary>
    public bool ChannelsLast { get; init; } = true;

    /// <summary>
    /// Batches prepared ahead on a background thread; 0 prepares each batch when it is needed; null
    /// (auto) prefetches only when the machine has cores that libtorch's threads leave free, since a background
    /// thread on busy cores competes with training (docs/performance.md#training-1, item 3).
    /// </summary>
    [PerProcess]
    public int? Prefetch { get; init; }

    /// <summary>Stop after this many batches per epoch (0: all); for smoke tests and quick experiments.</summary>
    public int MaxBatchesPerEpoch { get; init; }

    /// <summary>Use at most this many training images (0: all), a stratified subset; for quick experiments.</summary>
    public int TrainLimit { get; init; }

    /// <summary>
    /// The options a resumed run may change (<see cref="Resumed"/>): they extend it or change how it reads its images,
    /// not what it computes; the threads are each process's own. Every other option is the run's saved one.
    /// </summary>
    public static IReadOnlyList<string> ChangeableOnResume { get; } =
        ["TrainOptions.Epochs", "TrainOptions.Threads", "ImageReading.Workers", "ImageReading.SkipBadImages"];

    /// <summary>
    /// These saved options with what a resume may change: <paramref name="epochs"/> in all (only more: a finished run
    /// goes on), <paramref name="skipBadImages"/> and <paramref name="workers"/> of <see cref="Images"/>; null keeps the saved value.
    /// </summary>
    /// <exception cref="EfficientNetException">Fewer epochs than the run was set to train.</exception>
    public TrainOptions Resumed(int? epochs = null, bool? skipBadImages = null, int? workers = null)
    {
        if (epochs is int total && total < Epochs)
        {
            throw new EfficientNetException($"TrainOptions.Epochs {total} on resume: the run was set to train {Epochs} epochs; resuming can only extend it");
        }
        return this with
        {
            Epochs = epochs ?? Epochs,
            Images = Images with { SkipBadImages = skipBadImages ?? Images.SkipBadImages, Workers = workers ?? Images.Workers },
        };
    }

    /// <summary>Throws an actionable error for an option out of range.</summary>
    public void Validate()
    {
        Check(Epochs > 0, $"TrainOptions.Epochs must be positive, got {Epochs}");
        Check(BatchSize > 0, $"TrainOptions.BatchSize must be positive, got {BatchSize}");
        Check(Resolution is null or (>= Models.EfficientNetOptions.MinResolution and <= Models.EfficientNetOptions.MaxResolution),
            $"TrainOptions.Resolution must be between {Models.EfficientNetOptions.MinResolution} and {Models.EfficientNetOptions.MaxResolution} pixels, got {Resolution}");
        Check(Threads >= 0, $"TrainOptions.Threads must be 0 (the default) or positive, got {Threads}");
        Check(Processes >= 1, $"TrainOptions.Processes must be positive, got {Processes}");
        new DataShare(0, Processes).OfBatch(BatchSize);
        Check(Processes == 1 || !CachedFeatures,
            "cached-feature training runs in one process (its epochs train only the head, in seconds): start it without an MPI launcher");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), $"TrainOptions.LearningRate must be positive, got {LearningRate}");
        Check(WeightDecay >= 0, $"TrainOptions.WeightDecay must be 0 or positive, got {WeightDecay}");
        Check(WarmupEpochs >= 0, $"TrainOptions.WarmupEpochs must be 0 or positive, got {WarmupEpochs}");
        Check(LabelSmoothing is >= 0 and < 1, $"TrainOptions.LabelSmoothing must be in [0, 1), got {LabelSmoothing}");
        Check(ValFraction is > 0 and < 1, $"TrainOptions.ValFraction must be between 0 and 1 (exclusive), got {ValFraction}");
        Check(EarlyStoppingPatience >= 0 && PlateauPatience >= 0, "TrainOptions.EarlyStoppingPatience and TrainOptions.PlateauPatience must be 0 (off) or positive");
        Check(PlateauFactor is > 0 and < 1, $"TrainOptions.PlateauFactor must be between 0 and 1 (exclusive), got {PlateauFactor}");
        Check(MinLearningRate >= 0, $"TrainOptions.MinLearningRate must be 0 or positive, got {MinLearningRate}");
        Check(EmaDecay is >= 0 and < 1, $"TrainOptions.EmaDecay must be 0 (off) or in (0, 1), e.g. 0.999, got {EmaDecay}");
        Check(MaxBatchesPerEpoch >= 0 && TrainLimit >= 0, "TrainOptions.MaxBatchesPerEpoch and TrainOptions.TrainLimit must be 0 (off) or positive");
        Check(Prefetch is null or >= 0, $"TrainOptions.Prefetch must be 0 or positive, got {Prefetch}");
        Check(!ReplaceHead || InitialWeights is not null, "TrainOptions.ReplaceHead needs TrainOptions.InitialWeights: a new model's head is new already");
        Check(!CachedFeatures || (Freeze.Backbone && Freeze.LastLayers + Freeze.LastBlocks + Freeze.Stages.Count == 0),
            "cached features need the whole backbone frozen (head-only training)");
        Check(Dataset != DatasetKind.Folder || Data is not null, "TrainOptions.Data is required for DatasetKind.Folder (a folder of class folders or a list file)");
        Check(Images.Workers >= 0, $"ImageReading.Workers must be 0 (one per core) or positive, got {Images.Workers}");
        Check(Dataset == DatasetKind.Folder || (Images.Cache != ImageCache.None && Images.RandomResizedCrop != true),
            "CIFAR-10 is always held in memory; ImageReading.Cache none and ImageReading.RandomResizedCrop are for image folders and lists");
        Check(Dataset == DatasetKind.Folder || !Images.SkipBadImages, "ImageReading.SkipBadImages is for image folders and lists (CIFAR-10's batches are checked whole when read)");
        Check(Images.RandomResizedCrop != true || Images.Cache != ImageCache.Memory,
            "ImageReading.RandomResizedCrop crops the full photo, so it needs streamed images: ImageReading.Cache none or auto");
        Check(Images.RandomResizedCrop != true || !CachedFeatures, "cached features are of one fixed view of each image; ImageReading.RandomResizedCrop cannot go with them");
        Augmentation.Validate();
    }

    /// <summary>The input size the fast recipe trains CIFAR-10 at (the 32x32 images resized once at load).</summary>
    private const int FastCifarResolution = 48;

    /// <summary>Every option as <paramref name="recipe"/> sets it for <paramref name="dataset"/> (see <see cref="TrainRecipe"/>).</summary>
    public static TrainOptions FromRecipe(TrainRecipe recipe, DatasetKind dataset) => recipe switch
    {
        TrainRecipe.Keras => new TrainOptions { Dataset = dataset },
        TrainRecipe.Fast => new TrainOptions
        {
            Dataset = dataset,
            Resolution = dataset == DatasetKind.Cifar10 ? FastCifarResolution : null,
            Epochs = 30,
            Optimizer = OptimizerKind.Sgd,
            LearningRate = 0.1,
            Momentum = 0.9,
            Nesterov = true,
            WeightDecay = 5e-4,
            Schedule = ScheduleKind.Linear,
            WarmupEpochs = 2,
            LabelSmoothing = 0.1,
            Dropout = 0.2,
            StochasticDepth = 0,
            EmaDecay = 0.999,
            EarlyStoppingPatience = 0,
            PlateauPatience = 0,
            RestoreBestWeights = false,
            Augmentation = AugmentationOptions.None with { Flip = true, CropPadding = 4 },
        },
        _ => throw new ArgumentOutOfRangeException(nameof(recipe), recipe, "unknown recipe"),
    };

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new EfficientNetException(message);
        }
    }
}
