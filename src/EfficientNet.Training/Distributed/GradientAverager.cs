using System.Diagnostics;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Training.Distributed;

/// <summary>
/// Averages the gradients of every process after each backward pass, as PyTorch's DistributedDataParallel does: the
/// trainable parameters' gradients, last layer first, are copied into float32 buckets of about 25 MB on the host, each
/// bucket is summed over the processes in place and divided by their number, and the mean is copied back. Every
/// process then takes the same optimizer step from the same gradients.
/// </summary>
internal sealed class GradientAverager : IDisposable
{
    /// <summary>Bucket size, DDP's default.</summary>
    public const long BucketBytes = 25L << 20;

    private readonly Communicator world;
    private readonly (Parameter[] Parameters, Tensor Buffer)[] buckets;
    private readonly Stopwatch communication = new();

    /// <summary>Buckets <paramref name="parameters"/> (those that take gradients) for <paramref name="world"/>, of at most <paramref name="bucketBytes"/> each (or one parameter).</summary>
    public GradientAverager(IEnumerable<Parameter> parameters, Communicator world, long bucketBytes = BucketBytes)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        this.world = world;
        var trainable = parameters.Where(p => p.requires_grad).Reverse().ToList();
        if (trainable.FirstOrDefault(p => p.dtype != ScalarType.Float32) is { } other)
        {
            throw new EfficientNetException($"data-parallel training averages float32 gradients; a parameter is {other.dtype}");
        }
        var groups = new List<List<Parameter>>();
        long bytes = bucketBytes;
        foreach (var parameter in trainable)
        {
            if (bytes + (parameter.numel() * 4) > bucketBytes)
            {
                groups.Add([]);
                bytes = 0;
            }
            groups[^1].Add(parameter);
            bytes += parameter.numel() * 4;
        }
        buckets = [.. groups.Select(g => (g.ToArray(), zeros(g.Sum(p => p.numel()), dtype: float32)))];
    }

    /// <summary>The number of buckets.</summary>
    public int Buckets => buckets.Length;

    /// <summary>Seconds spent in the all-reduce so far.</summary>
    public double CommunicationSeconds => communication.Elapsed.TotalSeconds;

    /// <summary>Replaces every trainable parameter's gradient by its mean over the processes (a missing one counts as zeros).</summary>
    public void Average()
    {
        if (!world.IsDistributed)
        {
            return;
        }
        using var noGrad = no_grad();
        foreach (var (parameters, buffer) in buckets)
        {
            using var scope = NewDisposeScope();
            long offset = 0;
            foreach (var parameter in parameters)
            {
                long n = parameter.numel();
                if (parameter.grad is { } grad)
                {
                    buffer.narrow(0, offset, n).copy_(grad.reshape(-1));
                }
                else
                {
                    buffer.narrow(0, offset, n).zero_();
                }
                offset += n;
            }
            communication.Start();
            world.AllReduceSum(buffer);
            communication.Stop();
            buffer.div_(world.Size);
            offset = 0;
            foreach (var parameter in parameters)
            {
                long n = parameter.numel();
                var mean = buffer.narrow(0, offset, n).view(parameter.shape);
                if (parameter.grad is { } grad)
                {
                    grad.copy_(mean);
                }
                else
                {
                    // The parameter keeps its own reference to the gradient; this wrapper goes with the scope.
                    parameter.grad = mean.to(parameter.device).clone();
                }
                offset += n;
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var (_, buffer) in buckets)
        {
            buffer.Dispose();
        }
    }
}
