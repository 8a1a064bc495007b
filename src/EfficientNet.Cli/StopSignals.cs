using System.Diagnostics;
using System.Runtime.InteropServices;
using EfficientNet.Training.Distributed;

namespace EfficientNet.Cli;

/// <summary>
/// The signals that ask a run to stop after writing its checkpoint. In a process of its own: SIGINT (Ctrl+C) or
/// SIGTERM, and a second one ends the process as usual. Under an MPI launcher the launcher's whole stop sequence is one
/// request: Open MPI's mpirun, itself sent SIGTERM or SIGINT, sends its processes SIGCONT, then SIGTERM after its
/// <c>odls_base_sigkill_timeout</c> (1 s by default), then SIGKILL as long again; Slurm sends SIGCONT and SIGTERM, and
/// SIGKILL after its KillWait. So there the first SIGCONT already starts the stop, and the signals after it do not end
/// the process before its checkpoint is written. A SIGCONT that resumes a stopped process (job control, a suspended
/// job) comes after a pause, which <see cref="PauseWatch"/> sees, and is ignored.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource cancel = new();
    private readonly bool launched = World.LaunchedRank is not null;
    private readonly PauseWatch? pauses;
    private readonly List<PosixSignalRegistration> registrations = [];

    public StopSignals()
    {
        registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal));
        registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal));
        if (launched && !OperatingSystem.IsWindows())
        {
            pauses = new PauseWatch();
            registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGCONT, OnSignal));
        }
    }

    /// <summary>Cancelled by the first stop signal.</summary>
    public CancellationToken Token => cancel.Token;

    private void OnSignal(PosixSignalContext context)
    {
        if (context.Signal == PosixSignal.SIGCONT && pauses!.JustResumed)
        {
            return;
        }
        context.Cancel = launched || !cancel.IsCancellationRequested;
        cancel.Cancel();
    }

    /// <summary>Handlers of a stop under a launcher, kept for the life of the process (see <see cref="Dispose"/>).</summary>
    private static StopSignals? lingering;

    /// <summary>
    /// Restores the signals' usual actions; except after a stop under a launcher, whose later signals (Open MPI's SIGTERM
    /// a second after its SIGCONT) must not end the process while it finishes with MPI and exits with its own code.
    /// </summary>
    public void Dispose()
    {
        if (launched && cancel.IsCancellationRequested)
        {
            lingering = this;
            return;
        }
        registrations.ForEach(r => r.Dispose());
        pauses?.Dispose();
        cancel.Dispose();
    }
}

/// <summary>
/// Tells whether this process has just come back from being stopped (SIGSTOP, SIGTSTP): a thread of its own notes the
/// time and the process's CPU time every tenth of a second, and a gap of over a second between two notes in which the
/// process used almost no CPU is a pause (a busy machine delays the notes too, but the process keeps computing then).
/// </summary>
internal sealed class PauseWatch : IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100), Gap = TimeSpan.FromSeconds(1), Idle = TimeSpan.FromMilliseconds(50), Recent = TimeSpan.FromSeconds(3);

    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource end = new();
    private readonly Lock gate = new();
    private (TimeSpan Wall, TimeSpan Cpu) last;
    private TimeSpan? lastPauseEnd;

    public PauseWatch()
    {
        last = Now();
        new Thread(Watch) { IsBackground = true, Name = "pause watch" }.Start();
    }

    /// <summary>Whether the process was paused within the last few seconds, or is only now running again.</summary>
    public bool JustResumed
    {
        get
        {
            lock (gate)
            {
                var now = Now();
                return IsPause(last, now) || now.Wall - lastPauseEnd < Recent;
            }
        }
    }

    private void Watch()
    {
        while (!end.Token.WaitHandle.WaitOne(Tick))
        {
            lock (gate)
            {
                var now = Now();
                if (IsPause(last, now))
                {
                    lastPauseEnd = now.Wall;
                }
                last = now;
            }
        }
    }

    private static bool IsPause((TimeSpan Wall, TimeSpan Cpu) before, (TimeSpan Wall, TimeSpan Cpu) after) =>
        after.Wall - before.Wall > Gap && after.Cpu - before.Cpu < Idle;

    private (TimeSpan Wall, TimeSpan Cpu) Now() => (clock.Elapsed, Environment.CpuUsage.TotalTime);

    public void Dispose() => end.Cancel();
}
