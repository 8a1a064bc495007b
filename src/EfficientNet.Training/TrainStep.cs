using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Training;

/// <summary>
/// One optimizer step on one batch: forward, cross-entropy with label smoothing (soft targets when
/// mixing), backward, update (skipped when the loss is not finite, which the caller then reports). Shared by <see cref="Trainer"/> and the training benchmark so that the
/// benchmark measures exactly the training code path. Everything it allocates lives in one dispose
/// scope, so native memory does not grow from step to step.
/// </summary>
internal sealed class TrainStep(nn.Module<Tensor, Tensor> model, OptimizerHelper optimizer, double labelSmoothing, Device device)
{
    /// <summary>Runs the step at learning rate <paramref name="learningRate"/>; returns the batch's mean loss and correct count.</summary>
    public (double Loss, long Correct) Run(Tensor images, Tensor labels, Tensor? softTargets, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        foreach (var group in optimizer.ParamGroups)
        {
            group.LearningRate = learningRate;
        }
        using var scope = NewDisposeScope();
        var target = labels.to(device);
        var logits = model.call(images.to(device));
        var loss = nn.functional.cross_entropy(logits, softTargets?.to(device) ?? target, label_smoothing: labelSmoothing);
        float value = loss.item<float>();
        if (!float.IsFinite(value))
        {
            // No update from a NaN or infinite loss: the weights stay those of the last finite step.
            return (value, 0);
        }
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        return (value, logits.argmax(1).eq(target).sum().item<long>());
    }
}
