namespace EfficientNet.Data;

/// <summary>Seeded, stratified train/validation splits.</summary>
public static class DatasetSplit
{
    /// <summary>The share of each class a training run holds out for validation unless told otherwise.</summary>
    public const double DefaultValidationFraction = 0.1;

    /// <summary>The seed training runs (and their validation split) use unless told otherwise.</summary>
    public const int DefaultSeed = 42;

    /// <summary>
    /// Holds out <paramref name="fraction"/> of each class for validation (rounded, at least one image
    /// of every class that has two or more), the same way for the same seed.
    /// </summary>
    public static (ImageDataset Train, ImageDataset Validation) Split(ImageDataset dataset, double fraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (fraction is <= 0 or >= 1)
        {
            throw new EfficientNetException($"TrainOptions.ValFraction must be between 0 and 1 (exclusive), got {fraction}");
        }
        var random = new Random(seed);
        var train = new List<int>();
        var validation = new List<int>();
        foreach (var group in Enumerable.Range(0, dataset.Count).GroupBy(i => dataset.Labels[i]).OrderBy(g => g.Key))
        {
            int[] members = group.ToArray();
            random.Shuffle(members);
            int held = members.Length < 2 ? 0 : Math.Clamp((int)Math.Round(members.Length * fraction), 1, members.Length - 1);
            validation.AddRange(members.Take(held));
            train.AddRange(members.Skip(held));
        }
        train.Sort();
        validation.Sort();
        return (dataset.Subset(train, $"{dataset.Source} (train part)"), dataset.Subset(validation, $"{dataset.Source} (validation part, {fraction:P0}, seed {seed})"));
    }
}
