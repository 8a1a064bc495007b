using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientNet.Training.Distributed;

/// <summary>Keeps the processes' copies of a model the same where training does not.</summary>
internal static class ModelSync
{
    /// <summary>Rank 0's parameters and buffers (BatchNorm statistics included) copied to every process.</summary>
    public static void BroadcastState(nn.Module model, Communicator world)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(world);
        foreach (var (_, tensor) in model.state_dict())
        {
            world.Broadcast(tensor);
        }
    }

    /// <summary>
    /// Every BatchNorm's running mean and variance replaced by their mean over the processes. Each process normalises
    /// with its own batch's statistics in training (DistributedDataParallel's default), so its running statistics drift
    /// apart; averaged before each validation and checkpoint, the saved model does not depend on which process saved it.
    /// </summary>
    public static void AverageBatchNormStatistics(nn.Module model, Communicator world)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(world);
        if (!world.IsDistributed)
        {
            return;
        }
        using var noGrad = no_grad();
        foreach (var norm in model.modules().OfType<BatchNorm2d>())
        {
            foreach (var statistic in new[] { norm.running_mean, norm.running_var }.OfType<Tensor>())
            {
                world.AllReduceSum(statistic);
                statistic.div_(world.Size);
            }
        }
    }

    /// <summary>
    /// Throws on every process when the processes' copies of <paramref name="model"/> (parameters and buffers) are not
    /// bit-identical, as data-parallel training keeps them: each compares a SHA-256 of its state with rank 0's.
    /// </summary>
    /// <exception cref="EfficientNetException">The copies differ.</exception>
    public static void CheckSame(nn.Module model, Communicator world, string what)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(world);
        if (!world.IsDistributed)
        {
            return;
        }
        byte[] mine = Fingerprint(model);
        byte[] root = world.Broadcast(world.IsRoot ? mine : null);
        Span<double> differing = [mine.AsSpan().SequenceEqual(root) ? 0 : 1];
        world.AllReduceSum(differing);
        if (differing[0] > 0)
        {
            throw new EfficientNetException(
                $"{what}: the processes' copies of the model differ ({differing[0]} of {world.Size} differ from rank 0's); data-parallel training keeps them identical, so this is a fault of the MPI library or of this library");
        }
    }

    /// <summary>A SHA-256 of every tensor of the model's state, in order.</summary>
    internal static byte[] Fingerprint(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var (_, tensor) in model.state_dict())
        {
            using var scope = NewDisposeScope();
            hash.AppendData(Communicator.HostContiguous(tensor).bytes);
        }
        return hash.GetHashAndReset();
    }
}
