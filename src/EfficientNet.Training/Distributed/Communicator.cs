using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientNet.Training.Distributed;

/// <summary>
/// The processes of one data-parallel job and the collective operations training needs. Every process calls each
/// collective in the same order; a process that fails ends the job (<see cref="Abort"/>) rather than leave the
/// others waiting in a collective forever.
/// </summary>
internal abstract class Communicator
{
    /// <summary>This process's rank, 0 to <see cref="Size"/> - 1.</summary>
    public abstract int Rank { get; }

    /// <summary>The number of processes.</summary>
    public abstract int Size { get; }

    /// <summary>Rank 0: the one process that writes files and prints progress.</summary>
    public bool IsRoot => Rank == 0;

    /// <summary>More than one process.</summary>
    public bool IsDistributed => Size > 1;

    /// <summary>What the job runs on, for logs: "1 process" or "2 processes (Open MPI v4.1.4 ...)".</summary>
    public abstract string Description { get; }

    /// <summary>Sums <paramref name="values"/> over all processes, in place.</summary>
    public abstract void AllReduceSum(Span<float> values);

    /// <summary>Sums <paramref name="values"/> over all processes, in place.</summary>
    public abstract void AllReduceSum(Span<double> values);

    /// <summary>Copies rank 0's <paramref name="data"/> to every process (each passes a span of the same length).</summary>
    public abstract void Broadcast(Span<byte> data);

    /// <summary>Returns when every process has called it.</summary>
    public abstract void Barrier();

    /// <summary>Whether <paramref name="stop"/> was cancelled on any process (each calls it at the same point of the work).</summary>
    public bool AnyStopRequested(CancellationToken stop)
    {
        Span<double> asked = [stop.IsCancellationRequested ? 1 : 0];
        AllReduceSum(asked);
        return asked[0] > 0;
    }

    /// <summary>Ends every process of the job with exit code <paramref name="code"/>.</summary>
    public abstract void Abort(int code);

    /// <summary>Sums a float32 or float64 CPU tensor over all processes, in place (a contiguous one; others are copied).</summary>
    public void AllReduceSum(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!IsDistributed)
        {
            return;
        }
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
        {
            // MPI reads host memory: a GPU tensor (or a strided view) goes through a contiguous host copy.
            using var scope = NewDisposeScope();
            var host = HostContiguous(tensor);
            AllReduceSum(host);
            using var noGrad = no_grad();
            tensor.copy_(host);
            return;
        }
        if (tensor.dtype == ScalarType.Float32)
        {
            AllReduceSum(MemoryMarshal.Cast<byte, float>(tensor.bytes));
        }
        else if (tensor.dtype == ScalarType.Float64)
        {
            AllReduceSum(MemoryMarshal.Cast<byte, double>(tensor.bytes));
        }
        else
        {
            throw new ArgumentException($"all-reduce takes float32 or float64 tensors, not {tensor.dtype}", nameof(tensor));
        }
    }

    /// <summary>Copies rank 0's values of <paramref name="tensor"/> (any dtype, the same shape everywhere) to every process, in place.</summary>
    public void Broadcast(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!IsDistributed)
        {
            return;
        }
        if (tensor.device_type == DeviceType.CPU && tensor.is_contiguous())
        {
            Broadcast(tensor.bytes);
            return;
        }
        using var scope = NewDisposeScope();
        var host = HostContiguous(tensor);
        Broadcast(host.bytes);
        using var noGrad = no_grad();
        tensor.copy_(host);
    }

    /// <summary><paramref name="tensor"/> itself when it is a contiguous CPU tensor, else a contiguous host copy (call inside a dispose scope).</summary>
    internal static Tensor HostContiguous(Tensor tensor) =>
        tensor.device_type == DeviceType.CPU && tensor.is_contiguous() ? tensor : tensor.cpu().contiguous();

    /// <summary>Rank 0's <paramref name="data"/> on every process (other ranks may pass null).</summary>
    public byte[] Broadcast(byte[]? data)
    {
        if (!IsDistributed)
        {
            return data ?? throw new ArgumentNullException(nameof(data));
        }
        Span<byte> length = stackalloc byte[sizeof(long)];
        if (IsRoot)
        {
            BitConverter.TryWriteBytes(length, (long)data!.Length);
        }
        Broadcast(length);
        var result = IsRoot ? data! : new byte[BitConverter.ToInt64(length)];
        // MPI counts are 32-bit: large payloads (a B7 checkpoint is 260 MB; a few GB fit) go in 1 GiB pieces.
        for (long offset = 0; offset < result.LongLength; offset += 1 << 30)
        {
            Broadcast(result.AsSpan((int)offset, (int)Math.Min(1 << 30, result.LongLength - offset)));
        }
        return result;
    }

    /// <summary>Rank 0's <paramref name="text"/> on every process.</summary>
    public string Broadcast(string? text) => System.Text.Encoding.UTF8.GetString(Broadcast(IsRoot ? System.Text.Encoding.UTF8.GetBytes(text ?? "") : null));
}

/// <summary>A job of one process: collectives are no-ops, and no MPI library is loaded.</summary>
internal sealed class SingleProcess : Communicator
{
    public static SingleProcess Instance { get; } = new();

    public override int Rank => 0;

    public override int Size => 1;

    public override string Description => "1 process";

    public override void AllReduceSum(Span<float> values)
    {
    }

    public override void AllReduceSum(Span<double> values)
    {
    }

    public override void Broadcast(Span<byte> data)
    {
    }

    public override void Barrier()
    {
    }

    public override void Abort(int code) => Environment.Exit(code);
}

/// <summary>The processes of MPI_COMM_WORLD.</summary>
internal sealed unsafe class MpiCommunicator(MpiLibrary mpi, int rank, int size, string version) : Communicator
{
    public override int Rank => rank;

    public override int Size => size;

    public override string Description => $"{size} processes ({version})";

    public MpiLibrary Library => mpi;

    public override void AllReduceSum(Span<float> values)
    {
        // MPI counts are 32-bit; callers pass buckets of a few million values.
        fixed (float* p = values)
        {
            mpi.AllReduceSum(p, values.Length, mpi.Float);
        }
    }

    public override void AllReduceSum(Span<double> values)
    {
        fixed (double* p = values)
        {
            mpi.AllReduceSum(p, values.Length, mpi.Double);
        }
    }

    public override void Broadcast(Span<byte> data)
    {
        fixed (byte* p = data)
        {
            mpi.Broadcast(p, data.Length, 0);
        }
    }

    public override void Barrier() => mpi.Barrier();

    public override void Abort(int code) => mpi.Abort(code);
}
