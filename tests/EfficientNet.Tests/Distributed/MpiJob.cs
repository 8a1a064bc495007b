using System.Diagnostics;
using System.Globalization;

namespace EfficientNet.Tests.Distributed;

/// <summary>The MPI implementations the data-parallel tests run under (Debian's openmpi-bin and mpich, which .ci/run installs).</summary>
public enum MpiLauncher
{
    OpenMpi,
    Mpich,
}

/// <summary>A 2-process job started by an MPI launcher as a child of the test, with its output captured.</summary>
internal sealed class MpiJob : IDisposable
{
    private readonly Process process;
    private readonly Task<string> error;

    private MpiJob(Process process)
    {
        this.process = process;
        error = process.StandardError.ReadToEndAsync();
    }

    /// <summary>The launcher's process.</summary>
    public int Id => process.Id;

    /// <summary>Standard output, line by line (rank 0 prints; the launcher forwards it).</summary>
    public StreamReader Output => process.StandardOutput;

    /// <summary>
    /// Starts <c>dotnet <paramref name="dll"/> <paramref name="args"/></c> as <paramref name="processes"/> processes under
    /// <paramref name="launcher"/>, with <paramref name="environment"/> added (inherited by the processes on this machine).
    /// With <paramref name="exitCodes"/>, each process's exit code is written to <c>rank-N.exit</c> in that folder (by a
    /// shell between the launcher and the process, which ignores SIGINT and SIGTERM itself so as to outlive it).
    /// </summary>
    public static MpiJob Start(MpiLauncher launcher, int processes, string dll, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? exitCodes = null) =>
        Start(launcher, [.. Enumerable.Repeat(args, processes)], dll, environment, exitCodes);

    /// <summary>Starts one process per element of <paramref name="argsPerRank"/>, rank k with its k-th arguments (MPMD: <c>-np 1 ... : -np 1 ...</c>).</summary>
    public static MpiJob Start(MpiLauncher launcher, IReadOnlyList<IEnumerable<string>> argsPerRank, string dll, IReadOnlyDictionary<string, string>? environment = null, string? exitCodes = null)
    {
        // Open MPI refuses root without --allow-run-as-root and more processes than cores without --oversubscribe;
        // env --default-signal: a test host started in the background passes SIGINT and SIGTERM on as ignored.
        string[] command = launcher == MpiLauncher.OpenMpi ? ["mpirun", "--allow-run-as-root", "--oversubscribe"] : ["mpirun.mpich"];
        string[] recorder = exitCodes is null ? [] :
            ["bash", "-c", $"trap '' INT TERM; \"$@\"; echo $? > '{exitCodes}'/rank-${{OMPI_COMM_WORLD_RANK:-$PMI_RANK}}.exit", "bash"];
        // Ranks with the same arguments form one group (-np N), as a plain launch does.
        var groups = new List<(int Count, string[] Args)>();
        foreach (string[] args in argsPerRank.Select(a => a.ToArray()))
        {
            if (groups.Count > 0 && groups[^1].Args.SequenceEqual(args))
            {
                groups[^1] = (groups[^1].Count + 1, args);
            }
            else
            {
                groups.Add((1, args));
            }
        }
        var apps = groups.Select((g, k) => (string[])[.. k > 0 ? [":"] : Array.Empty<string>(), "-np", g.Count.ToString(CultureInfo.InvariantCulture),
            .. recorder, "env", "--default-signal=INT,TERM", "dotnet", dll, .. g.Args]);
        var start = new ProcessStartInfo(command[0], [.. command[1..], .. apps.SelectMany(a => a)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        try
        {
            return new MpiJob(Process.Start(start)!);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{command[0]} is missing: bash .ci/run installs openmpi-bin and mpich", e);
        }
    }

    /// <summary>Runs a job to its end; fails the test if it takes longer than <paramref name="limit"/>.</summary>
    public static (int Exit, string Out, string Err) Run(MpiLauncher launcher, int processes, string dll, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? limit = null) =>
        Run(launcher, [.. Enumerable.Repeat(args, processes)], dll, environment, limit);

    /// <summary>Runs a job of one process per element of <paramref name="argsPerRank"/> to its end (see <see cref="Start(MpiLauncher, IReadOnlyList{IEnumerable{string}}, string, IReadOnlyDictionary{string, string}?, string?)"/>).</summary>
    public static (int Exit, string Out, string Err) Run(MpiLauncher launcher, IReadOnlyList<IEnumerable<string>> argsPerRank, string dll, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? limit = null)
    {
        using var job = Start(launcher, argsPerRank, dll, environment);
        string output = job.Output.ReadToEndAsync().WaitAsync(limit ?? TimeSpan.FromMinutes(5)).GetAwaiter().GetResult();
        var (exit, err) = job.Wait(limit ?? TimeSpan.FromMinutes(5));
        return (exit, output, err);
    }

    /// <summary>Reads standard output up to the first line that starts with <paramref name="prefix"/> (failing the test if it ends first).</summary>
    public void ReadUntil(string prefix)
    {
        string? line;
        while ((line = Output.ReadLine()) is not null && !line.StartsWith(prefix, StringComparison.Ordinal))
        {
        }
        Assert.True(line is not null, $"the job's output ended before a line starting '{prefix}'");
    }

    /// <summary>Waits for the launcher to end (failing the test after <paramref name="limit"/>); its exit code and standard error.</summary>
    public (int Exit, string Err) Wait(TimeSpan limit)
    {
        Assert.True(process.WaitForExit(limit), $"the MPI job did not end within {limit.TotalSeconds} s");
        return (process.ExitCode, error.Result);
    }

    /// <summary>The pid of the job's process of rank <paramref name="rank"/> (found by its launcher's rank variable and <paramref name="marker"/> in its command line).</summary>
    public static int RankProcess(int rank, string marker)
    {
        string wanted = rank.ToString(CultureInfo.InvariantCulture);
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }
            try
            {
                string commandLine = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (!commandLine.Contains(marker, StringComparison.Ordinal) || !commandLine.StartsWith("dotnet", StringComparison.Ordinal))
                {
                    continue;
                }
                var environment = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0');
                if (environment.Contains($"OMPI_COMM_WORLD_RANK={wanted}") || environment.Contains($"PMI_RANK={wanted}"))
                {
                    return pid;
                }
            }
            catch (IOException)
            {
                // the process ended meanwhile
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        throw new InvalidOperationException($"no process of rank {rank} running '{marker}'");
    }

    /// <summary>Sends <paramref name="signal"/> (e.g. "-TERM") to <paramref name="pid"/>.</summary>
    public static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", [signal, pid.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        process.Dispose();
    }
}
