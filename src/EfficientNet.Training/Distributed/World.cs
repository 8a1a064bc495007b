
namespace EfficientNet.Training.Distributed;

/// <summary>
/// The data-parallel job this process belongs to: one process unless an MPI launcher started it as one of several
/// (<see cref="Launch"/>); then the MPI library is loaded and initialised on first use, and finalised at exit.
/// </summary>
public static class World
{
    private static readonly Lazy<Communicator> Current = new(Start);

    /// <summary>Whether the work ended with a <see cref="JobWideException"/>, which leaves no process waiting.</summary>
    private static bool failedTogether;

    /// <summary>The job's communicator (started on first use).</summary>
    internal static Communicator Communicator => Current.Value;

    /// <summary>This process's rank in the job (0 for one process); starts MPI under a launcher.</summary>
    public static int Rank => Communicator.Rank;

    /// <summary>Processes in the job (1 without a launcher); starts MPI under a launcher.</summary>
    public static int Size => Communicator.Size;

    /// <summary>The job in words, such as "1 process" or "2 processes (Open MPI v4.1.4)"; starts MPI under a launcher.</summary>
    public static string Description => Communicator.Description;

    /// <summary>
    /// Whether <paramref name="error"/> was raised by every process of the job together (a disagreement between them
    /// found before any work), so that rank 0 reporting it is enough: the others may stay quiet.
    /// </summary>
    public static bool RaisedTogether(Exception error) => error is JobWideException;

    /// <summary>
    /// This process's rank as an MPI launcher's environment states it, or null when no launcher started it: reads the
    /// environment only, so a program can decide what to print before any MPI library is loaded.
    /// </summary>
    public static int? LaunchedRank => Launch.FromEnvironment(Environment.GetEnvironmentVariable)?.Rank;

    /// <summary>
    /// libtorch threads for each process when the user chose none (0): the CPUs the launcher bound the process to, or,
    /// unbound, the machine's CPUs shared among its processes; 0 (libtorch's default) for a job of one process.
    /// </summary>
    public static int DefaultThreads
    {
        get
        {
            var launch = Launch.FromEnvironment(Environment.GetEnvironmentVariable);
            if (launch is null || launch.Size <= 1)
            {
                return 0;
            }
            int allowed = Environment.ProcessorCount; // affinity and CPU quota applied
            bool bound = OperatingSystem.IsLinux() && CpuCount(File.ReadAllText("/sys/devices/system/cpu/online")) is int online && allowed < online;
            return bound ? allowed : Math.Max(1, allowed / Math.Max(1, launch.LocalSize));
        }
    }

    /// <summary>
    /// Ends this process's part of the job (nothing for one process): after its work is done, waits for every process
    /// and finalises MPI; after a failure (<paramref name="failed"/>) of its own, ends the whole job, since the others
    /// may be waiting for this one in a collective. After a stop (<paramref name="stopped"/>: every process wrote what it had
    /// to and met the others) it waits at most half a second for MPI_Finalize, which a launcher that is ending the job
    /// itself may answer only after its grace before SIGKILL (docs/reliability.md#data-parallel-jobs).
    /// </summary>
    public static void Finish(bool failed, bool stopped = false)
    {
        if (Current.IsValueCreated && Current.Value is MpiCommunicator mpi)
        {
            if (failed && !failedTogether)
            {
                mpi.Abort(1);
            }
            mpi.Barrier();
            if (stopped)
            {
                Task.Run(mpi.Library.Shutdown).Wait(TimeSpan.FromSeconds(0.5));
            }
            else
            {
                mpi.Library.Shutdown();
            }
        }
    }

    /// <summary>
    /// Ends the whole job after an error on this process, so no other process waits for it in a collective: says what
    /// failed on standard error (the abort leaves no other way), then MPI_Abort. Nothing for a job of one process.
    /// </summary>
    internal static void AbortJob(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (Current.IsValueCreated && Current.Value is { IsDistributed: true } world)
        {
            Console.Error.WriteLine($"rank {world.Rank} of {world.Size}: error: {error.Message}");
            Console.Error.Flush();
            world.Abort(1);
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/>, work every process of the job does together: an error on this process ends the
    /// whole job (<see cref="AbortJob"/>) instead of leaving the others waiting; a stop (cancellation) does not, nor
    /// does an error every process raised together (<see cref="JobWideException"/>).
    /// </summary>
    internal static T Collectively<T>(Func<T> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return body();
        }
        catch (JobWideException)
        {
            failedTogether = true;
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            AbortJob(e);
            throw;
        }
    }

    /// <summary>The number of CPUs in a Linux CPU list such as "0-3,8,10-11".</summary>
    internal static int? CpuCount(string list)
    {
        int count = 0;
        foreach (string range in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] ends = range.Split('-');
            if (!int.TryParse(ends[0], out int first) || !int.TryParse(ends[^1], out int last) || last < first)
            {
                return null;
            }
            count += last - first + 1;
        }
        return count;
    }

    private static Communicator Start()
    {
        var launch = Launch.FromEnvironment(Environment.GetEnvironmentVariable);
        if (launch is null || launch.Size <= 1)
        {
            return SingleProcess.Instance;
        }
        if (!OperatingSystem.IsLinux())
        {
            throw new EfficientNetException($"{launch.Launcher} started {launch.Size} processes, but data-parallel training runs on Linux only");
        }
        string? named = Environment.GetEnvironmentVariable(Launch.LibraryVariable);
        MpiLibrary mpi;
        try
        {
            mpi = MpiLibrary.Load(launch.LibraryCandidates(named));
        }
        catch (EfficientNetException e)
        {
            throw new EfficientNetException(
                $"{launch.Launcher} started {launch.Size} processes ({launch.SizeVariable}={launch.Size}), but {e.Message}: install the MPI " +
                $"implementation the launcher belongs to (Debian: openmpi-bin or mpich) or name its library in {Launch.LibraryVariable}", e);
        }
        string version = mpi.Version();
        mpi.Initialize();
        int size = mpi.Size();
        if (size != launch.Size)
        {
            throw new EfficientNetException(
                $"{launch.Launcher} started {launch.Size} processes ({launch.SizeVariable}={launch.Size}), but the MPI library {mpi.Path} ({version}) " +
                $"sees {size}: the launcher and the library belong to different MPI implementations; start the processes with the mpirun of the library's " +
                $"implementation, or name the library of the launcher's in {Launch.LibraryVariable}");
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) => mpi.Shutdown();
        return new MpiCommunicator(mpi, mpi.Rank(), size, version);
    }
}
