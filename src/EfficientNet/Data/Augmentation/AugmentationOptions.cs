namespace EfficientNet.Data.Augmentation;

/// <summary>An automatic augmentation policy.</summary>
public enum AutoAugmentKind
{
    /// <summary>No policy.</summary>
    None,

    /// <summary>RandAugment: two random operations at magnitude 9 of 30.</summary>
    RandAugment,

    /// <summary>TrivialAugmentWide: one random operation at a random magnitude.</summary>
    TrivialAugment,
}

/// <summary>
/// Training augmentation. The defaults are the Keras tutorial's pipeline: horizontal flip,
/// rotation ±0.1 turn, zoom ±10%, translation ±10%, contrast ±10%.
/// </summary>
public sealed record AugmentationOptions
{
    /// <summary>Random horizontal flips.</summary>
    public bool Flip { get; init; } = true;

    /// <summary>Largest rotation, in turns (0.1 = ±36 degrees).</summary>
    public double Rotation { get; init; } = 0.1;

    /// <summary>Largest relative zoom in or out.</summary>
    public double Zoom { get; init; } = 0.1;

    /// <summary>Largest shift, as a fraction of the image size.</summary>
    public double Translation { get; init; } = 0.1;

    /// <summary>Largest relative contrast change.</summary>
    public double Contrast { get; init; } = 0.1;

    /// <summary>Random crop after reflect padding by this many pixels (0: off; 4 is the classic CIFAR setting).</summary>
    public int CropPadding { get; init; }

    /// <summary>Cutout: side of the grey square hidden in each image, in pixels (0: off; 16 is the paper's CIFAR-10 setting).</summary>
    public int Cutout { get; init; }

    /// <summary>RandAugment or TrivialAugment before the other transforms.</summary>
    public AutoAugmentKind Policy { get; init; } = AutoAugmentKind.None;

    /// <summary>Mixup Beta parameter (0: off; 0.2 is common).</summary>
    public double Mixup { get; init; }

    /// <summary>CutMix Beta parameter (0: off; 1.0 is common).</summary>
    public double Cutmix { get; init; }

    /// <summary>No augmentation at all.</summary>
    public static AugmentationOptions None { get; } = new() { Flip = false, Rotation = 0, Zoom = 0, Translation = 0, Contrast = 0 };

    /// <summary>Throws an actionable error for a value out of range.</summary>
    public void Validate()
    {
        foreach (var (name, value, max) in new[] { ("rotation", Rotation, 0.5), ("zoom", Zoom, 0.9), ("translation", Translation, 0.5), ("contrast", Contrast, 1.0) })
        {
            if (value < 0 || value > max)
            {
                throw new EfficientNetException($"--{name} must be between 0 and {max}, got {value}");
            }
        }
        if (CropPadding < 0 || Cutout < 0)
        {
            throw new EfficientNetException($"AugmentationOptions.CropPadding and AugmentationOptions.Cutout must be 0 (off) or positive, got {CropPadding} and {Cutout}");
        }
        if (Mixup < 0 || Cutmix < 0)
        {
            throw new EfficientNetException($"AugmentationOptions.Mixup and AugmentationOptions.Cutmix must be 0 (off) or positive, got {Mixup} and {Cutmix}");
        }
    }

    /// <summary>The per-image transforms in the order they run (policy, crop, flip, affine, contrast, cutout).</summary>
    internal IReadOnlyList<IBatchTransform> BuildTransforms()
    {
        Validate();
        var transforms = new List<IBatchTransform>();
        if (Policy == AutoAugmentKind.RandAugment)
        {
            transforms.Add(AutoAugmentPolicy.RandAugment());
        }
        else if (Policy == AutoAugmentKind.TrivialAugment)
        {
            transforms.Add(AutoAugmentPolicy.TrivialAugment());
        }
        if (CropPadding > 0)
        {
            transforms.Add(new RandomCropWithPadding(CropPadding));
        }
        if (Flip)
        {
            transforms.Add(new RandomHorizontalFlip());
        }
        if (Rotation > 0 || Zoom > 0 || Translation > 0)
        {
            transforms.Add(new RandomAffine(Rotation, Zoom, Translation));
        }
        if (Contrast > 0)
        {
            transforms.Add(new RandomContrast(Contrast));
        }
        if (Cutout > 0)
        {
            transforms.Add(new Cutout(Cutout));
        }
        return transforms;
    }
}
