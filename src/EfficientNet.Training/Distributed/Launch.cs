using System.Globalization;

namespace EfficientNet.Training.Distributed;

/// <summary>
/// What an MPI launcher told this process through its environment: who started it, its rank, how many processes
/// the job has and how many run on this machine.
/// </summary>
/// <param name="Launcher">The launcher, for messages.</param>
/// <param name="SizeVariable">The variable the job size came from, for messages.</param>
/// <param name="Rank">This process's rank.</param>
/// <param name="Size">Processes in the job.</param>
/// <param name="LocalSize">Processes of the job on this machine.</param>
/// <param name="PrefersOpenMpi">Whether the launcher belongs to Open MPI (or speaks PMIx), so Open MPI's library is tried first.</param>
internal sealed record Launch(string Launcher, string SizeVariable, int Rank, int Size, int LocalSize, bool PrefersOpenMpi)
{
    /// <summary>Names the MPI library to load (a file name or path), instead of the launcher's usual one.</summary>
    public const string LibraryVariable = "EFFNET_MPI_LIBRARY";

    /// <summary>
    /// The launch <paramref name="variable"/> describes: Open MPI's mpirun (OMPI_COMM_WORLD_*), a PMI launcher such as
    /// MPICH's mpiexec or <c>srun --mpi=pmi2</c> (PMI_*), or Slurm's srun (SLURM_STEP_NUM_TASKS, SLURM_PROCID); null
    /// without one.
    /// </summary>
    public static Launch? FromEnvironment(Func<string, string?> variable)
    {
        ArgumentNullException.ThrowIfNull(variable);
        int? Int(string name) => int.TryParse(variable(name), NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : null;
        int? slurmLocal = SlurmTasksOnThisNode(variable("SLURM_STEP_TASKS_PER_NODE"), Int("SLURM_NODEID") ?? 0);
        bool pmix = variable("PMIX_RANK") is not null;
        if (Int("OMPI_COMM_WORLD_SIZE") is int ompi)
        {
            return new("Open MPI's mpirun", "OMPI_COMM_WORLD_SIZE", Int("OMPI_COMM_WORLD_RANK") ?? 0, ompi, Int("OMPI_COMM_WORLD_LOCAL_SIZE") ?? ompi, PrefersOpenMpi: true);
        }
        if (Int("PMI_SIZE") is int pmi)
        {
            return new("a PMI launcher (MPICH's mpiexec, srun --mpi=pmi2)", "PMI_SIZE", Int("PMI_RANK") ?? 0, pmi, Int("MPI_LOCALNRANKS") ?? slurmLocal ?? pmi, pmix);
        }
        if (Int("SLURM_STEP_NUM_TASKS") is int tasks && Int("SLURM_PROCID") is int procid)
        {
            return new("Slurm's srun", "SLURM_STEP_NUM_TASKS", procid, tasks, slurmLocal ?? tasks, pmix);
        }
        return null;
    }

    /// <summary>The MPI libraries to try, in order: the one <see cref="LibraryVariable"/> names, else the launcher's family first.</summary>
    public IReadOnlyList<string> LibraryCandidates(string? named)
    {
        if (!string.IsNullOrWhiteSpace(named))
        {
            return [named];
        }
        string[] openMpi = ["libmpi.so.40"];
        string[] mpich = ["libmpich.so.12", "libmpi.so.12"];
        return PrefersOpenMpi ? [.. openMpi, .. mpich] : [.. mpich, .. openMpi];
    }

    /// <summary>
    /// Slurm's per-node task counts ("2(x3),1": 2 tasks on each of 3 nodes, then 1) at node <paramref name="node"/>.
    /// </summary>
    internal static int? SlurmTasksOnThisNode(string? perNode, int node)
    {
        if (string.IsNullOrEmpty(perNode))
        {
            return null;
        }
        var counts = new List<int>();
        foreach (string part in perNode.Split(','))
        {
            int open = part.IndexOf("(x", StringComparison.Ordinal);
            if (!int.TryParse(open < 0 ? part : part[..open], NumberStyles.None, CultureInfo.InvariantCulture, out int tasks))
            {
                return null;
            }
            int repeat = 1;
            if (open >= 0 && !int.TryParse(part[(open + 2)..].TrimEnd(')'), NumberStyles.None, CultureInfo.InvariantCulture, out repeat))
            {
                return null;
            }
            counts.AddRange(Enumerable.Repeat(tasks, repeat));
        }
        return node < counts.Count ? counts[node] : null;
    }
}
