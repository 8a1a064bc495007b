using System.Diagnostics;
using EfficientNet.Data;
using EfficientNet.Models;
using EfficientNet.Runtime;
using EfficientNet.Training.Distributed;
using EfficientNet.Training.Evaluation;
using EfficientNet.Training.Optimization;
using EfficientNet.Training.Options;
using EfficientNet.Training.Reporting;
using EfficientNet.Training.Runs;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Training.Running;

/// <summary>
/// The epoch loop every run goes through, full models and cached-feature heads alike: train an epoch (one dispose
/// scope per step), validate, apply reduce-on-plateau and early stopping, write the epoch's files, and at the end the
/// final model. Cancellation writes a checkpoint at a batch boundary; a non-finite loss stops the run with nothing
/// written after the last finite epoch. In a data-parallel job every process runs the loop in step (the same
/// decisions from the same all-reduced numbers); BatchNorm statistics are averaged over the processes before each
/// validation and checkpoint, and only rank 0 writes files and reports progress.
/// </summary>
internal sealed class TrainingLoop : IDisposable
{
    private readonly TrainOptions options;
    private readonly EfficientNetModel model;
    private readonly ITrainingInputs inputs;
    private readonly OptimizerHelper optimizer;
    private readonly WeightAverage? average;
    private readonly RunFolder folder;
    private readonly Device device;
    private readonly ITrainingObserver? observer;
    private readonly Communicator world;
    private readonly TrainStep trainStep;
    private readonly LearningRateSchedule schedule;
    private readonly ReduceOnPlateau plateau;
    private readonly EarlyStopping stopping;
    private readonly List<EpochRecord> history;
    private readonly BadImageLog? badImages;
    private readonly int leftOut;
    private readonly TensorBoardLog? curves;
    private long step;
    private double validationSeconds;

    /// <summary>
    /// Sets the loop up at <paramref name="state"/> (a fresh state for a new run) for the processes of <paramref name="world"/>;
    /// the unreadable images the data skips are taken from <paramref name="badImages"/> at the end of each epoch, and the
    /// <paramref name="leftOut"/> ones a set decoded into memory lacks are counted in every epoch's row.
    /// </summary>
    public TrainingLoop(
        TrainOptions options, EfficientNetModel model, ITrainingInputs inputs, OptimizerHelper optimizer, WeightAverage? average, RunFolder folder, Device device,
        ITrainingObserver? observer, TrainingState state, Communicator world, BadImageLog? badImages = null, int leftOut = 0)
    {
        this.badImages = badImages;
        this.leftOut = leftOut;
        (this.options, this.model, this.inputs, this.optimizer, this.average, this.folder, this.device, this.world) =
            (options, model, inputs, optimizer, average, folder, device, world);
        this.observer = world.IsRoot ? observer : null;
        curves = world.IsRoot ? new TensorBoardLog(folder.RunDirectory) : null;
        BatchesPerEpoch = options.MaxBatchesPerEpoch > 0 ? Math.Min(options.MaxBatchesPerEpoch, inputs.BatchesPerEpoch) : inputs.BatchesPerEpoch;
        trainStep = new TrainStep(inputs.Trained(model), optimizer, options.LabelSmoothing, device, world);
        schedule = new LearningRateSchedule(options, BatchesPerEpoch) { PlateauScale = state.PlateauScale };
        plateau = new ReduceOnPlateau(options.PlateauPatience, options.PlateauFactor) { Best = state.PlateauBest, Wait = state.PlateauWait };
        stopping = new EarlyStopping(options.EarlyStoppingPatience) { Best = state.BestAccuracy, BestEpoch = state.BestEpoch, Wait = state.StopWait };
        history = state.History.ToList();
        step = state.Step;
    }

    /// <summary>Optimizer steps per epoch.</summary>
    public int BatchesPerEpoch { get; }

    /// <summary>The model that is validated and saved as best and final: the weight average when kept, else the trained model.</summary>
    private EfficientNetModel Validated => average?.Model ?? model;

    /// <summary>Trains from <paramref name="state"/> (continuing its partial epoch when <paramref name="resumed"/>) to the last epoch or an early stop.</summary>
    public TrainingResult Run(TrainingState state, bool resumed, CancellationToken cancellation)
    {
        for (int epoch = state.Epoch; epoch < options.Epochs; epoch++)
        {
            var progress = resumed && epoch == state.Epoch ? EpochProgress.Continuing(state) : new EpochProgress();
            if (!TrainEpoch(epoch, progress, cancellation))
            {
                return Interrupt(epoch, progress);
            }
            progress.EndTraining();
            EvaluationResult validation;
            try
            {
                var clock = Stopwatch.StartNew();
                AverageBatchNormStatistics();
                validation = inputs.Validate(Validated, options.LabelSmoothing, cancellation);
                validationSeconds = clock.Elapsed.TotalSeconds;
            }
            catch (OperationCanceledException)
            {
                return Interrupt(epoch, progress);
            }
            if (EndEpoch(epoch, progress, validation))
            {
                observer?.Message($"early stopping: no better validation accuracy for {options.EarlyStoppingPatience} epochs (best {stopping.Best:P2} at epoch {stopping.BestEpoch})");
                return Finish(stoppedEarly: true);
            }
        }
        return Finish(stoppedEarly: false);
    }

    /// <summary>Trains the rest of <paramref name="epoch"/>; false when cancelled (between two steps).</summary>
    private bool TrainEpoch(int epoch, EpochProgress progress, CancellationToken cancellation)
    {
        progress.LearningRate = schedule.At(step);
        model.train();
        if (progress.Batch >= BatchesPerEpoch)
        {
            return true;
        }
        foreach (var batch in inputs.Epoch(epoch, progress.Batch))
        {
            (double Loss, long Correct, long Count, bool StopRequested) outcome;
            using (batch)
            {
                progress.LearningRate = schedule.At(step);
                outcome = trainStep.Run(batch.Images, batch.Labels, batch.Targets, progress.LearningRate, cancellation);
                if (outcome.StopRequested)
                {
                    return false;
                }
                if (!double.IsFinite(outcome.Loss))
                {
                    throw Diverged($"training loss became {outcome.Loss}", epoch, progress.Batch, progress.LearningRate);
                }
                average?.Update(step);
                progress.Add(outcome.Loss, outcome.Correct, outcome.Count);
            }
            step++;
            if (progress.Batch % Math.Max(1, BatchesPerEpoch / 10) == 0)
            {
                curves?.Step(step, progress.MeanLoss, progress.LearningRate);
            }
            observer?.BatchDone(progress.Report(epoch, options.Epochs, BatchesPerEpoch, validationSeconds));
            if (progress.Batch >= BatchesPerEpoch)
            {
                break;
            }
        }
        return true;
    }

    /// <summary>Records a validated epoch, steps the callbacks and writes the epoch's files; true when early stopping ends the run.</summary>
    private bool EndEpoch(int epoch, EpochProgress progress, EvaluationResult validation)
    {
        if (!double.IsFinite(validation.Loss))
        {
            throw Diverged($"validation loss became {validation.Loss}", epoch, BatchesPerEpoch, progress.LearningRate);
        }
        int bad = ListBadImages(epoch) + leftOut;
        var record = new EpochRecord(epoch + 1, progress.MeanLoss, progress.Accuracy, validation.Loss, validation.Accuracy, progress.LearningRate,
            progress.TotalSeconds, progress.ImagesPerSecond, ProcessResources.ResidentMegabytesAfterRelease(), bad);
        history.Add(record);

        double factor = plateau.Update(validation.Loss);
        if (factor < 1)
        {
            schedule.PlateauScale *= factor;
            observer?.Message($"validation loss has not improved for {options.PlateauPatience} epochs: learning rate scale now {schedule.PlateauScale:G3}");
        }
        bool best = stopping.Update(epoch + 1, validation.Accuracy);
        ModelSync.CheckSame(model, world, $"after epoch {epoch + 1}");
        if (average is not null)
        {
            ModelSync.CheckSame(average.Model, world, $"the weight average after epoch {epoch + 1}");
        }
        if (world.IsRoot)
        {
            folder.EndEpoch(model, optimizer, average, State(epoch + 1, 0, null), best);
        }
        curves?.Epoch(record);
        observer?.EpochDone(record, best);
        return stopping.ShouldStop;
    }

    /// <summary>
    /// Lists the unreadable images every process skipped in 0-based <paramref name="epoch"/> so far in the run folder
    /// (rank 0) and returns how many it lists for the epoch (on every process).
    /// </summary>
    private int ListBadImages(int epoch)
    {
        if (badImages is null)
        {
            return 0;
        }
        var met = BadImageLog.Gather(badImages.Take(), world);
        Span<double> count = [world.IsRoot ? folder.AddBadImages(epoch + 1, met) : 0];
        world.AllReduceSum(count);
        if (met.Count > 0)
        {
            int n = (int)count[0];
            observer?.Message($"epoch {epoch + 1}: {n} unreadable image{(n == 1 ? "" : "s")} skipped, each replaced by the next image of its list; listed in {Path.Combine(folder.RunDirectory, RunFiles.BadImages)}");
        }
        return (int)count[0];
    }

    /// <summary>Averages the BatchNorm statistics of the trained model and of the weight average over the processes.</summary>
    private void AverageBatchNormStatistics()
    {
        ModelSync.AverageBatchNormStatistics(model, world);
        if (average is not null)
        {
            ModelSync.AverageBatchNormStatistics(average.Model, world);
        }
    }

    /// <summary>Writes the model a finished run ends with and reports where it is.</summary>
    private TrainingResult Finish(bool stoppedEarly)
    {
        var result = new TrainingResult(folder.RunDirectory, history, stopping.Best, stopping.BestEpoch, stoppedEarly, Interrupted: false);
        string what = average is null ? "weights" : "weight average";
        if (options.RestoreBestWeights && stopping.BestEpoch > 0)
        {
            if (world.IsRoot)
            {
                folder.CopyBestToFinal();
            }
            observer?.Message($"{result.FinalModelPath} holds the best epoch's {what} (epoch {stopping.BestEpoch}, validation accuracy {stopping.Best:P2})");
        }
        else if (history.Count > 0)
        {
            if (world.IsRoot)
            {
                folder.SaveFinal(Validated);
            }
            observer?.Message($"{result.FinalModelPath} holds the last epoch's {what} (epoch {history.Count})");
        }
        // No process leaves before rank 0 has written: a launcher ends the job when one of its processes ends.
        world.Barrier();
        return result;
    }

    /// <summary>Writes a checkpoint at the batch boundary <paramref name="progress"/> reached, to resume from.</summary>
    private TrainingResult Interrupt(int epoch, EpochProgress progress)
    {
        var state = State(epoch, progress.Batch, progress);
        ListBadImages(epoch);
        AverageBatchNormStatistics();
        if (world.IsRoot)
        {
            folder.SaveLast(model, optimizer, average, state);
        }
        world.Barrier();
        observer?.Message($"interrupted at epoch {epoch + 1}, batch {progress.Batch}: checkpoint written to {folder.LastPath}; continue with Trainer.Resume {folder.RunDirectory}");
        return new TrainingResult(folder.RunDirectory, history, stopping.Best, stopping.BestEpoch, StoppedEarly: false, Interrupted: true);
    }

    /// <summary>Where the run stands at 0-based <paramref name="epoch"/>, batch <paramref name="batch"/>, with the partial epoch's sums when inside one.</summary>
    private TrainingState State(int epoch, int batch, EpochProgress? partial) => new()
    {
        Epoch = epoch,
        Batch = batch,
        Step = step,
        PlateauScale = schedule.PlateauScale,
        PlateauBest = plateau.Best,
        PlateauWait = plateau.Wait,
        BestAccuracy = stopping.Best,
        BestEpoch = stopping.BestEpoch,
        StopWait = stopping.Wait,
        History = history.ToList(),
        PartialLoss = partial?.LossSum ?? 0,
        PartialCorrect = partial?.Correct ?? 0,
        PartialSeen = partial?.Seen ?? 0,
        PartialSeconds = partial?.TrainSeconds ?? 0,
    };

    /// <summary>
    /// The error that ends a diverged run. Nothing is written for the failing epoch, so last.safetensors and
    /// best.safetensors keep the last finite models.
    /// </summary>
    private EfficientNetException Diverged(string what, int epoch, int batch, double lr)
    {
        string kept = File.Exists(folder.LastPath)
            ? $"{folder.LastPath} still holds the last finite checkpoint ({history.Count} epochs)"
            : "no checkpoint had been written yet";
        return new EfficientNetException(
            $"training diverged: the {what} at epoch {epoch + 1}, batch {batch + 1} (learning rate {lr:G3}); nothing was saved after it, so {kept}. " +
            $"Try a lower TrainOptions.LearningRate (e.g. {lr / 10:G3}) or a longer TrainOptions.WarmupEpochs; if this is a resumed run, its checkpoint may be damaged");
    }

    /// <inheritdoc/>
    public void Dispose() => trainStep.Dispose();

    /// <summary>Running sums of one epoch (continued from a checkpoint's partial sums after an interruption) and its clocks.</summary>
    private sealed class EpochProgress
    {
        private readonly int startBatch;
        private readonly double secondsBefore;
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private double trainingSeconds = -1;

        public EpochProgress()
        {
        }

        private EpochProgress(TrainingState state)
        {
            (Batch, startBatch, LossSum, Correct, Seen, secondsBefore) = (state.Batch, state.Batch, state.PartialLoss, state.PartialCorrect, state.PartialSeen, state.PartialSeconds);
        }

        public int Batch { get; private set; }

        public double LossSum { get; private set; }

        public long Correct { get; private set; }

        public long Seen { get; private set; }

        public double LearningRate { get; set; }

        /// <summary>Training seconds so far (frozen at the end of training, so validation is not counted).</summary>
        public double TrainSeconds => trainingSeconds >= 0 ? trainingSeconds : secondsBefore + clock.Elapsed.TotalSeconds;

        /// <summary>Training and validation seconds.</summary>
        public double TotalSeconds => secondsBefore + clock.Elapsed.TotalSeconds;

        public double MeanLoss => LossSum / Math.Max(1, Seen);

        public double Accuracy => (double)Correct / Math.Max(1, Seen);

        public double ImagesPerSecond => Seen / Math.Max(1e-9, TrainSeconds);

        public static EpochProgress Continuing(TrainingState state) => new(state);

        public void Add(double loss, long right, long count)
        {
            LossSum += loss * count;
            Correct += right;
            Seen += count;
            Batch++;
        }

        public void EndTraining() => trainingSeconds = TrainSeconds;

        /// <summary>Where 0-based <paramref name="epoch"/> of <paramref name="epochs"/> stands, a validation taking <paramref name="validationSeconds"/>.</summary>
        public BatchProgress Report(int epoch, int epochs, int batches, double validationSeconds)
        {
            double perBatch = clock.Elapsed.TotalSeconds / Math.Max(1, Batch - startBatch);
            double epochLeft = (batches - Batch) * perBatch;
            double runLeft = epochLeft + (epochs - epoch - 1) * batches * perBatch + (epochs - epoch) * validationSeconds;
            return new(epoch + 1, epochs, Batch, batches, LossSum / Seen, (double)Correct / Seen, LearningRate, ImagesPerSecond,
                TimeSpan.FromSeconds(epochLeft), TimeSpan.FromSeconds(runLeft));
        }
    }
}
