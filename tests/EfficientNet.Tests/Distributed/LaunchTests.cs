using System.Text.RegularExpressions;
using EfficientNet.Training.Distributed;
using EfficientNet.Training.Options;

namespace EfficientNet.Tests.Distributed;

public class LaunchTests
{
    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void FromEnvironment_ReadsEachLaunchersVariables()
    {
        Assert.Null(Launch.FromEnvironment(Environment()));
        Assert.Equal(new Launch("Open MPI's mpirun", "OMPI_COMM_WORLD_SIZE", 1, 4, 2, PrefersOpenMpi: true),
            Launch.FromEnvironment(Environment(("OMPI_COMM_WORLD_SIZE", "4"), ("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_LOCAL_SIZE", "2"))));
        Assert.Equal(new Launch("a PMI launcher (MPICH's mpiexec, srun --mpi=pmi2)", "PMI_SIZE", 3, 4, 4, PrefersOpenMpi: false),
            Launch.FromEnvironment(Environment(("PMI_SIZE", "4"), ("PMI_RANK", "3"), ("MPI_LOCALNRANKS", "4"))));
        // srun: 2 tasks on each of 3 nodes, then 1; this is the fourth node.
        Assert.Equal(new Launch("Slurm's srun", "SLURM_STEP_NUM_TASKS", 6, 7, 1, PrefersOpenMpi: true),
            Launch.FromEnvironment(Environment(("SLURM_STEP_NUM_TASKS", "7"), ("SLURM_PROCID", "6"), ("SLURM_STEP_TASKS_PER_NODE", "2(x3),1"), ("SLURM_NODEID", "3"), ("PMIX_RANK", "6"))));
        // A batch script's own environment (no step) is not a launch.
        Assert.Null(Launch.FromEnvironment(Environment(("SLURM_NTASKS", "4"), ("SLURM_JOB_ID", "17"))));
    }

    [Fact]
    public void LibraryCandidates_TheNamedOneElseTheLaunchersFamilyFirst()
    {
        var openMpi = new Launch("l", "v", 0, 2, 2, PrefersOpenMpi: true);
        Assert.Equal(["/opt/mpi/lib/libmpi.so.40"], openMpi.LibraryCandidates("/opt/mpi/lib/libmpi.so.40"));
        Assert.Equal("libmpi.so.40", openMpi.LibraryCandidates(null)[0]);
        Assert.Equal("libmpich.so.12", (openMpi with { PrefersOpenMpi = false }).LibraryCandidates(" ")[0]);
    }

    [Theory]
    [InlineData("0-3,8,10-11", 7)]
    [InlineData("0", 1)]
    [InlineData("0-1\n", 2)]
    [InlineData("3-1", null)]
    public void CpuCount_OfALinuxCpuList(string list, int? expected) => Assert.Equal(expected, World.CpuCount(list));

    [Fact]
    public void Options_BatchMustShareEquallyAndCachedFeaturesStayInOneProcess()
    {
        var e = Assert.Throws<EfficientNetException>(() => new TrainOptions { BatchSize = 127, Processes = 2 }.Validate());
        Assert.Contains("the batch size (127) must be a multiple of the number of processes (2)", e.Message, StringComparison.Ordinal);
        new TrainOptions { BatchSize = 128, Processes = 2 }.Validate();
        var cached = new TrainOptions { Processes = 2, CachedFeatures = true, Freeze = EfficientNet.Models.FreezeSpec.HeadOnly };
        Assert.Contains("cached-feature training runs in one process", Assert.Throws<EfficientNetException>(cached.Validate).Message, StringComparison.Ordinal);
    }
}

public class MpiAbiTests
{
    // Debian's libmpich-dev and libopenmpi-dev (.ci/run installs them) put the headers here.
    private static string Header(string pattern)
    {
        var found = Directory.GetDirectories("/usr").SelectMany(d => SafeFiles(d, "mpi.h")).Where(p => Regex.IsMatch(p, pattern)).ToList();
        Assert.True(found.Count > 0, $"no mpi.h matching {pattern}: bash .ci/run installs libmpich-dev and libopenmpi-dev");
        return File.ReadAllText(found[0]);
    }

    private static List<string> SafeFiles(string root, string name)
    {
        try
        {
            return Directory.EnumerateFiles(root, name, new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, MaxRecursionDepth = 4 }).ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }

    [Fact]
    public void MpichHandles_AreTheHeadersConstants()
    {
        string header = Header("/mpich/mpi\\.h$");
        int Define(string name) => Convert.ToInt32(Regex.Match(header, $@"#define {name}\s+\(?\(MPI_\w+\)\s*\(?0x([0-9a-fA-F]+)").Groups[1].Value, 16);
        Assert.Equal(MpiLibrary.MpichCommWorld, Define("MPI_COMM_WORLD"));
        Assert.Equal(MpiLibrary.MpichFloat, Define("MPI_FLOAT"));
        Assert.Equal(MpiLibrary.MpichDouble, Define("MPI_DOUBLE"));
        Assert.Equal(MpiLibrary.MpichByte, Define("MPI_BYTE"));
        Assert.Equal(MpiLibrary.MpichSum, Define("MPI_SUM"));
        Assert.Matches(@"#define MPI_IN_PLACE\s+\(void \*\) -1", header);
        Assert.Matches(@"#define MPI_THREAD_SERIALIZED 2", header);
    }

    [Fact]
    public void OpenMpiHandles_AreTheExportedGlobalsTheHeaderNames()
    {
        string header = Header("/openmpi/include/mpi\\.h$");
        foreach (var (handle, global) in new[] { ("MPI_COMM_WORLD", "ompi_mpi_comm_world"), ("MPI_FLOAT", "ompi_mpi_float"), ("MPI_DOUBLE", "ompi_mpi_double"), ("MPI_BYTE", "ompi_mpi_byte"), ("MPI_SUM", "ompi_mpi_op_sum") })
        {
            Assert.Matches($@"#define {handle} OMPI_PREDEFINED_GLOBAL\(\s*MPI_\w+,\s*{global}\)", header);
        }
        Assert.Matches(@"#define MPI_IN_PLACE\s+\(\(void \*\) 1\)", header);
    }
}
