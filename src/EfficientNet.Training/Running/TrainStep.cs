using EfficientNet.Training.Distributed;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Training.Running;

/// <summary>
/// One optimizer step on one batch: forward, cross-entropy with label smoothing (soft targets when mixing), backward,
/// update (skipped when the loss is not finite, which the caller then reports). In a data-parallel job each process
/// runs its share of the batch and the gradients are averaged over the processes before the update
/// (<see cref="GradientAverager"/>), so every process takes the same step; a one-value all-reduce before the step
/// shares any process's wish to stop (so a stop waits for no step that had not begun), and a small one after the
/// backward pass the loss and the counts. Shared by <see cref="Trainer"/> and the training benchmark so that the
/// benchmark measures exactly the training code path. Everything it allocates lives in one dispose scope, so native
/// memory does not grow from step to step.
/// </summary>
public sealed class TrainStep : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly OptimizerHelper optimizer;
    private readonly double labelSmoothing;
    private readonly Device device;
    private readonly Communicator world;
    private readonly GradientAverager? gradients;

    /// <summary>A step of <paramref name="model"/> with <paramref name="optimizer"/>, data-parallel over the job's processes (<see cref="World"/>).</summary>
    public TrainStep(nn.Module<Tensor, Tensor> model, OptimizerHelper optimizer, double labelSmoothing, Device device)
        : this(model, optimizer, labelSmoothing, device, World.Communicator)
    {
    }

    /// <summary>A step of <paramref name="model"/> with <paramref name="optimizer"/>, data-parallel over <paramref name="world"/> (one process when null).</summary>
    internal TrainStep(nn.Module<Tensor, Tensor> model, OptimizerHelper optimizer, double labelSmoothing, Device device, Communicator? world = null)
    {
        (this.model, this.optimizer, this.labelSmoothing, this.device) = (model, optimizer, labelSmoothing, device);
        this.world = world ?? SingleProcess.Instance;
        gradients = this.world.IsDistributed ? new GradientAverager(model.parameters(), this.world) : null;
    }

    /// <summary>Seconds spent summing gradients over the processes so far (0 for one process).</summary>
    public double CommunicationSeconds => gradients?.CommunicationSeconds ?? 0;

    /// <summary>Runs the step at learning rate <paramref name="learningRate"/>.</summary>
    /// <param name="images">This process's images.</param>
    /// <param name="labels">Their class indices.</param>
    /// <param name="softTargets">Mixed targets (mixup, cutmix), else null.</param>
    /// <param name="learningRate">The learning rate of this step.</param>
    /// <param name="stop">Read before the step: a stop asked of any process ends the job's step loop together, without this step.</param>
    /// <returns>
    /// What the step did, summed over the processes: the mean loss of the whole batch (not finite when any process's
    /// was not: then no update was made), its right top-1 predictions and its images; StopRequested when any process
    /// was asked to stop (Ctrl+C, SIGTERM) before it: then no step was taken, and all stop.
    /// </returns>
    public (double Loss, long Correct, long Count, bool StopRequested) Run(Tensor images, Tensor labels, Tensor? softTargets, double learningRate, CancellationToken stop = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        foreach (var group in optimizer.ParamGroups)
        {
            group.LearningRate = learningRate;
        }
        if (world.AnyStopRequested(stop))
        {
            return (double.NaN, 0, 0, StopRequested: true);
        }
        using var scope = NewDisposeScope();
        var target = labels.to(device);
        var logits = model.call(images.to(device));
        var loss = nn.functional.cross_entropy(logits, softTargets?.to(device) ?? target, label_smoothing: labelSmoothing);
        float value = loss.item<float>();
        bool finite = float.IsFinite(value);
        if (finite)
        {
            optimizer.zero_grad();
            loss.backward();
        }
        long count = labels.shape[0];
        // Loss x images, right, images, processes with a non-finite loss.
        Span<double> totals = [value * count, logits.argmax(1).eq(target).sum().item<long>(), count, finite ? 0 : 1];
        world.AllReduceSum(totals);
        if (totals[3] > 0)
        {
            // No update from a NaN or infinite loss on any process: the weights stay those of the last finite step.
            return (finite ? double.NaN : value, 0, (long)totals[2], StopRequested: false);
        }
        gradients?.Average();
        optimizer.step();
        return (totals[0] / totals[2], (long)totals[1], (long)totals[2], StopRequested: false);
    }

    /// <inheritdoc/>
    public void Dispose() => gradients?.Dispose();
}
