using EfficientNet.Data;
using EfficientNet.Training.Distributed;
using static TorchSharp.torch;

namespace EfficientNet.Training.Evaluation;

/// <summary>Loss, accuracy, per-class accuracy and confusion matrix of a model on a dataset.</summary>
/// <param name="Loss">Mean cross-entropy (with the given label smoothing).</param>
/// <param name="Accuracy">Share of images whose top class is right.</param>
/// <param name="Classes">Class names.</param>
/// <param name="Confusion">Confusion[true, predicted] image counts.</param>
public sealed record EvaluationResult(double Loss, double Accuracy, IReadOnlyList<string> Classes, long[,] Confusion)
{
    /// <summary>Images evaluated.</summary>
    public long Count => Enumerable.Range(0, Classes.Count).Sum(t => Enumerable.Range(0, Classes.Count).Sum(p => Confusion[t, p]));

    /// <summary>
    /// The result over all processes of a data-parallel job, each having evaluated its share (<paramref name="local"/>;
    /// null for a process whose share was empty): losses and confusion counts added up.
    /// </summary>
    internal static EvaluationResult Sum(EvaluationResult? local, IReadOnlyList<string> classes, Communicator world)
    {
        if (!world.IsDistributed)
        {
            return local ?? throw new ArgumentNullException(nameof(local));
        }
        int k = classes.Count;
        var sums = new double[1 + (k * k)];
        if (local is not null)
        {
            sums[0] = local.Loss * local.Count;
            for (int i = 0; i < k * k; i++)
            {
                sums[1 + i] = local.Confusion[i / k, i % k];
            }
        }
        world.AllReduceSum(sums);
        var confusion = new long[k, k];
        for (int i = 0; i < k * k; i++)
        {
            confusion[i / k, i % k] = (long)sums[1 + i];
        }
        long count = sums.Skip(1).Sum(c => (long)c);
        long correct = Enumerable.Range(0, k).Sum(i => confusion[i, i]);
        return new EvaluationResult(sums[0] / count, (double)correct / count, classes, confusion);
    }

    /// <summary>Accuracy of each class (recall), NaN for a class without images.</summary>
    public IReadOnlyList<double> PerClassAccuracy => Enumerable.Range(0, Classes.Count).Select(t =>
    {
        long total = Enumerable.Range(0, Classes.Count).Sum(p => Confusion[t, p]);
        return total == 0 ? double.NaN : (double)Confusion[t, t] / total;
    }).ToArray();
}

/// <summary>Runs a model over a loader in evaluation mode, without gradients, one dispose scope per batch.</summary>
internal static class Evaluator
{
    /// <summary>Evaluates <paramref name="model"/> on every batch of <paramref name="loader"/> (epoch 0 order).</summary>
    public static EvaluationResult Run(nn.Module<Tensor, Tensor> model, DataLoader loader, Device device, double labelSmoothing = 0, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(loader);
        return Run(model, loader.Epoch(0, 0, cancellation), loader.Data.Classes, device, labelSmoothing);
    }

    /// <summary>Evaluates the logits <paramref name="logitsOf"/> computes (an engine's) on every batch of <paramref name="loader"/>.</summary>
    public static EvaluationResult Run(Func<Tensor, Tensor> logitsOf, DataLoader loader, double labelSmoothing = 0, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(loader);
        return Run(logitsOf, loader.Epoch(0, 0, cancellation), loader.Data.Classes, labelSmoothing);
    }

    /// <summary>Evaluates <paramref name="model"/> in evaluation mode, without gradients, on <paramref name="batches"/>.</summary>
    internal static EvaluationResult Run(nn.Module<Tensor, Tensor> model, IEnumerable<Batch> batches, IReadOnlyList<string> classes, Device device, double labelSmoothing)
    {
        ArgumentNullException.ThrowIfNull(model);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            return Run(images => model.call(images.to(device)), batches, classes, labelSmoothing);
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    private static EvaluationResult Run(Func<Tensor, Tensor> logitsOf, IEnumerable<Batch> batches, IReadOnlyList<string> classes, double labelSmoothing)
    {
        ArgumentNullException.ThrowIfNull(logitsOf);
        int k = classes.Count;
        var confusion = new long[k, k];
        double lossSum = 0;
        long seen = 0;
        foreach (var batch in batches)
        {
            using (batch)
            using (NewDisposeScope())
            {
                var logits = logitsOf(batch.Images);
                var labels = batch.Labels.to(logits.device);
                lossSum += nn.functional.cross_entropy(logits, labels, label_smoothing: labelSmoothing).item<float>() * batch.Count;
                long[] predicted = logits.argmax(1).cpu().data<long>().ToArray();
                long[] truth = batch.Labels.data<long>().ToArray();
                for (int i = 0; i < truth.Length; i++)
                {
                    confusion[truth[i], predicted[i]]++;
                }
                seen += batch.Count;
            }
        }
        long correct = Enumerable.Range(0, k).Sum(i => confusion[i, i]);
        return new EvaluationResult(lossSum / seen, (double)correct / seen, classes, confusion);
    }
}
