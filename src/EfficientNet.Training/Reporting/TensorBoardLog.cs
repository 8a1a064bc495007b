using EfficientNet.Training.Runs;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Training.Reporting;

/// <summary>
/// A run's curves in TensorBoard's event format, in the run folder, so that <c>tensorboard --logdir runs</c> shows
/// every run: per epoch the training and validation loss and accuracy and the learning rate (x: the epoch), and ten
/// times an epoch the epoch's running training loss and the learning rate (x: the optimizer step). Each session of a
/// run (a start, each resume) adds an events file; TensorBoard reads them as one run.
/// </summary>
internal sealed class TensorBoardLog(string runDirectory)
{
    /// <summary>The names of the events files in a run folder.</summary>
    public const string FilePattern = "events.out.tfevents.*";

    private readonly SummaryWriter writer = utils.tensorboard.SummaryWriter(runDirectory);

    /// <summary>The running training loss of the epoch and the learning rate at optimizer step <paramref name="step"/>.</summary>
    public void Step(long step, double runningLoss, double learningRate)
    {
        writer.add_scalar("step/train_loss", (float)runningLoss, checked((int)step));
        writer.add_scalar("step/learning_rate", (float)learningRate, checked((int)step));
    }

    /// <summary>An epoch's row of history.csv.</summary>
    public void Epoch(EpochRecord record)
    {
        writer.add_scalar("epoch/train_loss", (float)record.TrainLoss, record.Epoch);
        writer.add_scalar("epoch/val_loss", (float)record.ValLoss, record.Epoch);
        writer.add_scalar("epoch/train_accuracy", (float)record.TrainAccuracy, record.Epoch);
        writer.add_scalar("epoch/val_accuracy", (float)record.ValAccuracy, record.Epoch);
        writer.add_scalar("epoch/learning_rate", (float)record.LearningRate, record.Epoch);
    }
}
