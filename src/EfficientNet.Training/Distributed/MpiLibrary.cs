using System.Runtime.InteropServices;
using System.Text;

namespace EfficientNet.Training.Distributed;

/// <summary>The two ABIs MPI libraries ship with.</summary>
internal enum MpiAbi
{
    /// <summary>Open MPI: handles are addresses of exported globals (<c>ompi_mpi_comm_world</c>, ...).</summary>
    OpenMpi,

    /// <summary>MPICH and its derivatives (Intel MPI, MVAPICH, Cray MPICH, MS-MPI): handles are integer constants.</summary>
    Mpich,
}

/// <summary>
/// The dozen MPI C functions data-parallel training needs, bound at run time from the library a launcher's processes
/// load (no native build, no MPI at all for a single process). Handles are passed as native integers: Open MPI's are
/// pointers, MPICH's 32-bit integers, which the x86-64 and AArch64 calling conventions pass in the same registers.
/// </summary>
internal sealed unsafe class MpiLibrary
{
    // MPICH's mpi.h (4.0.2): the handles of the predefined objects (checked against the header in the tests).
    internal const int MpichCommWorld = 0x44000000;
    internal const int MpichFloat = 0x4c00040a;
    internal const int MpichDouble = 0x4c00080b;
    internal const int MpichByte = 0x4c00010d;
    internal const int MpichSum = 0x58000003;

    private const int Success = 0;
    private const int ThreadSerialized = 2; // the same in both ABIs
    private const int LibraryVersionCapacity = 8192; // MPICH's MPI_MAX_LIBRARY_VERSION_STRING (Open MPI's is 256)
    private const int RtldNow = 2;
    private const int RtldGlobal = 0x100;

    private readonly delegate* unmanaged<int*, int> initialized;
    private readonly delegate* unmanaged<int*, nint*, int, int*, int> initThread;
    private readonly delegate* unmanaged<nint, int*, int> commRank;
    private readonly delegate* unmanaged<nint, int*, int> commSize;
    private readonly delegate* unmanaged<nint, nint, int, nint, nint, nint, int> allReduce;
    private readonly delegate* unmanaged<nint, int, nint, int, nint, int> broadcast;
    private readonly delegate* unmanaged<nint, int> barrier;
    private readonly delegate* unmanaged<nint, int, int> abort;
    private readonly delegate* unmanaged<int*, int> finalized;
    private readonly delegate* unmanaged<int> finalize;
    private readonly delegate* unmanaged<byte*, int*, int> libraryVersion;

    private MpiLibrary(string path, nint handle)
    {
        Path = path;
        initialized = (delegate* unmanaged<int*, int>)Export(handle, "MPI_Initialized");
        initThread = (delegate* unmanaged<int*, nint*, int, int*, int>)Export(handle, "MPI_Init_thread");
        commRank = (delegate* unmanaged<nint, int*, int>)Export(handle, "MPI_Comm_rank");
        commSize = (delegate* unmanaged<nint, int*, int>)Export(handle, "MPI_Comm_size");
        allReduce = (delegate* unmanaged<nint, nint, int, nint, nint, nint, int>)Export(handle, "MPI_Allreduce");
        broadcast = (delegate* unmanaged<nint, int, nint, int, nint, int>)Export(handle, "MPI_Bcast");
        barrier = (delegate* unmanaged<nint, int>)Export(handle, "MPI_Barrier");
        abort = (delegate* unmanaged<nint, int, int>)Export(handle, "MPI_Abort");
        finalized = (delegate* unmanaged<int*, int>)Export(handle, "MPI_Finalized");
        finalize = (delegate* unmanaged<int>)Export(handle, "MPI_Finalize");
        libraryVersion = (delegate* unmanaged<byte*, int*, int>)Export(handle, "MPI_Get_library_version");
        if (NativeLibrary.TryGetExport(handle, "ompi_mpi_comm_world", out nint world))
        {
            Abi = MpiAbi.OpenMpi;
            (CommWorld, Float, Double, Byte, Sum, InPlace) = (world, Export(handle, "ompi_mpi_float"), Export(handle, "ompi_mpi_double"),
                Export(handle, "ompi_mpi_byte"), Export(handle, "ompi_mpi_op_sum"), 1);
        }
        else
        {
            Abi = MpiAbi.Mpich;
            (CommWorld, Float, Double, Byte, Sum, InPlace) = (MpichCommWorld, MpichFloat, MpichDouble, MpichByte, MpichSum, -1);
        }
    }

    /// <summary>The library file loaded.</summary>
    public string Path { get; }

    /// <summary>Its ABI family.</summary>
    public MpiAbi Abi { get; }

    public nint CommWorld { get; }

    public nint Float { get; }

    public nint Double { get; }

    public nint Byte { get; }

    public nint Sum { get; }

    /// <summary>MPI_IN_PLACE: 1 in Open MPI, -1 in MPICH.</summary>
    public nint InPlace { get; }

    /// <summary>Loads the first of <paramref name="candidates"/> that exists (names or paths), with its symbols global, as Open MPI's plugins need.</summary>
    /// <exception cref="EfficientNetException">None loads, or one lacks an MPI function.</exception>
    public static MpiLibrary Load(IReadOnlyList<string> candidates)
    {
        var failures = new List<string>();
        foreach (string candidate in candidates)
        {
            nint handle = OpenGlobal(candidate, out string? error);
            if (handle != 0)
            {
                return new MpiLibrary(candidate, handle);
            }
            failures.Add($"{candidate}: {error}");
        }
        throw new EfficientNetException($"no MPI library could be loaded ({string.Join("; ", failures)})");
    }

    /// <summary>The start of the library's own description (MPI_Get_library_version): "Open MPI v4.1.4", "MPICH Version: 4.0.2".</summary>
    public string Version()
    {
        byte* text = stackalloc byte[LibraryVersionCapacity];
        int length = 0;
        Check(libraryVersion(text, &length), "MPI_Get_library_version");
        string first = Encoding.UTF8.GetString(text, length).TrimEnd('\0').Split('\n', ',')[0];
        return string.Join(' ', first.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>MPI_Init_thread (serialized calls) unless the process did it already.</summary>
    public void Initialize()
    {
        int done = 0;
        Check(initialized(&done), "MPI_Initialized");
        if (done == 0)
        {
            int provided = 0;
            Check(initThread(null, null, ThreadSerialized, &provided), "MPI_Init_thread");
        }
    }

    public int Rank()
    {
        int rank = 0;
        Check(commRank(CommWorld, &rank), "MPI_Comm_rank");
        return rank;
    }

    public int Size()
    {
        int size = 0;
        Check(commSize(CommWorld, &size), "MPI_Comm_size");
        return size;
    }

    /// <summary>Sums <paramref name="count"/> values of <paramref name="type"/> at <paramref name="buffer"/> over all processes, in place.</summary>
    public void AllReduceSum(void* buffer, int count, nint type) =>
        Check(allReduce(InPlace, (nint)buffer, count, type, Sum, CommWorld), "MPI_Allreduce");

    /// <summary>Copies <paramref name="count"/> bytes at <paramref name="buffer"/> from <paramref name="root"/> to every process.</summary>
    public void Broadcast(void* buffer, int count, int root) =>
        Check(broadcast((nint)buffer, count, Byte, root, CommWorld), "MPI_Bcast");

    public void Barrier() => Check(barrier(CommWorld), "MPI_Barrier");

    /// <summary>Ends every process of the job (the launcher reports <paramref name="code"/>).</summary>
    public void Abort(int code) => abort(CommWorld, code);

    private int shutdownStarted;

    /// <summary>MPI_Finalize, once (later calls, and calls while it runs, do nothing).</summary>
    public void Shutdown()
    {
        int done = 0;
        if (Interlocked.Exchange(ref shutdownStarted, 1) == 0 && finalized(&done) == Success && done == 0)
        {
            finalize();
        }
    }

    private static void Check(int code, string function)
    {
        if (code != Success)
        {
            throw new EfficientNetException($"{function} failed with MPI error code {code}");
        }
    }

    private static nint Export(nint handle, string name) =>
        NativeLibrary.TryGetExport(handle, name, out nint address)
            ? address
            : throw new EfficientNetException($"the MPI library has no {name}: is it an MPI library?");

    // dlopen with RTLD_GLOBAL: Open MPI's components, loaded by the library itself, resolve their symbols against it.
    private static nint OpenGlobal(string name, out string? error)
    {
        nint handle = DlOpen(name, RtldNow | RtldGlobal);
        error = handle == 0 ? Marshal.PtrToStringUTF8(DlError()) : null;
        return handle;
    }

    [DllImport("libc", EntryPoint = "dlopen", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern nint DlOpen(string file, int mode);

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern nint DlError();
}
