
namespace EfficientNet.Training.Optimization;

/// <summary>
/// Keras's EarlyStopping(monitor="val_accuracy", patience, restore_best_weights): stop after
/// <c>patience</c> epochs without a new best. State is plain data so it travels in checkpoints.
/// </summary>
internal sealed class EarlyStopping
{
    /// <summary>Creates the callback; patience 0 never stops.</summary>
    public EarlyStopping(int patience) => Patience = patience;

    /// <summary>Epochs without improvement before stopping (0: off).</summary>
    public int Patience { get; }

    /// <summary>Best validation accuracy so far (-1 before the first epoch).</summary>
    public double Best { get; set; } = -1;

    /// <summary>1-based epoch of the best value (0 before the first epoch).</summary>
    public int BestEpoch { get; set; }

    /// <summary>Epochs since the best.</summary>
    public int Wait { get; set; }

    /// <summary>Records an epoch's accuracy; returns whether it is a new best.</summary>
    public bool Update(int epoch, double accuracy)
    {
        if (accuracy > Best)
        {
            Best = accuracy;
            BestEpoch = epoch;
            Wait = 0;
            return true;
        }
        Wait++;
        return false;
    }

    /// <summary>Whether training should stop now.</summary>
    public bool ShouldStop => Patience > 0 && Wait >= Patience;
}

/// <summary>
/// Keras's ReduceLROnPlateau(monitor="val_loss", factor, patience, min_lr): after <c>patience</c>
/// epochs without a lower validation loss, multiply the learning rate by <c>factor</c>.
/// </summary>
internal sealed class ReduceOnPlateau
{
    /// <summary>Creates the callback; patience 0 never reduces.</summary>
    public ReduceOnPlateau(int patience, double factor)
    {
        Patience = patience;
        Factor = factor;
    }

    /// <summary>Epochs without improvement before reducing (0: off).</summary>
    public int Patience { get; }

    /// <summary>Multiplier applied on each plateau.</summary>
    public double Factor { get; }

    /// <summary>Lowest validation loss so far.</summary>
    public double Best { get; set; } = double.PositiveInfinity;

    /// <summary>Epochs since the best.</summary>
    public int Wait { get; set; }

    /// <summary>Records an epoch's loss; returns the factor to apply now (1 when no reduction).</summary>
    public double Update(double loss)
    {
        if (loss < Best)
        {
            Best = loss;
            Wait = 0;
            return 1;
        }
        Wait++;
        if (Patience > 0 && Wait >= Patience)
        {
            Wait = 0;
            return Factor;
        }
        return 1;
    }
}
