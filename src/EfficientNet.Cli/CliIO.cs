using System.CommandLine;
using System.Runtime.InteropServices;
using EfficientNet.Cli.Output;
using EfficientNet.Runtime;
using EfficientNet.Training.Distributed;

namespace EfficientNet.Cli;

/// <summary>Where a verb writes, and the one place that turns user errors into a line and an exit code.</summary>
public sealed class CliIO(TextWriter output, TextWriter error)
{
    /// <summary>Whether <see cref="NativeAllocator"/> settings are in effect.</summary>
    public bool RetainingAllocator { get; private set; }

    /// <summary>
    /// Keep large blocks in the heap (the retaining allocator, see <see cref="NativeAllocator"/>), for inference and
    /// training verbs alike; docs/performance.md measures what it gains.
    /// </summary>
    public void UseRetainingAllocator() => RetainingAllocator = NativeAllocator.UseRetainingAllocator();

    public TextWriter Out { get; } = output;

    public TextWriter Err { get; } = error;

    /// <summary>Runs a verb's body; an error the user can fix becomes one line on stderr and exit code 1.</summary>
    public Func<ParseResult, int> Guard(Action<ParseResult> body) => parse =>
    {
        try
        {
            body(parse);
            return 0;
        }
        catch (Exception e) when (World.RaisedTogether(e) && World.Rank > 0)
        {
            // Every process of a data-parallel job raised it; rank 0 reports it.
            return EffnetCli.UserError;
        }
        catch (Exception e) when (e is EfficientNetException or IOException or UnauthorizedAccessException)
        {
            Err.WriteLine($"effnet: error: {OptionFlags.Rewrite(e.Message)}");
            return EffnetCli.UserError;
        }
        catch (OperationCanceledException e)
        {
            Err.WriteLine($"effnet: interrupted: {OptionFlags.Rewrite(e.Message)}");
            return EffnetCli.Interrupted;
        }
    };

    public void Json<T>(T value) => Format.WriteJson(Out, value);

    /// <summary>
    /// Runs <paramref name="body"/> with a token that the first stop signal cancels (Ctrl+C, SIGTERM, and under an MPI
    /// launcher the start of its stop sequence: see <see cref="StopSignals"/>); the run then writes its checkpoint and
    /// returns. SIGTERM matters for runs started in the background (`nohup … &amp;`, services, containers), where shells
    /// start the process with SIGINT ignored.
    /// </summary>
    public static T WithInterruption<T>(Func<CancellationToken, T> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var signals = new StopSignals();
        return body(signals.Token);
    }

    /// <summary>Progress through <paramref name="total"/> slow steps, drawn on standard error when it is a terminal.</summary>
    internal TerminalProgress Progress(int total) => new(ReferenceEquals(Err, Console.Error) && !Console.IsErrorRedirected ? Err : null, total);

    /// <summary>A progress display for this output: live on a terminal, plain lines otherwise.</summary>
    internal ConsoleTrainingObserver TrainingObserver() => new(Out, live: ReferenceEquals(Out, Console.Out) && !Console.IsOutputRedirected);

    /// <summary>
    /// Fails before any work when <paramref name="path"/> (an --out file) has the wrong extension or its folder
    /// does not exist; a folder that is not writable fails at the (atomic) write.
    /// </summary>
    public static void RequireOutputFolder(string path, string extension)
    {
        if (!string.Equals(Path.GetExtension(path), extension, StringComparison.OrdinalIgnoreCase))
        {
            throw new EfficientNetException($"--out must be a {extension} file, got '{path}'");
        }
        IO.AtomicFile.RequireFolder(path);
    }

    /// <summary>Applies --threads to libtorch (see <see cref="ProcessResources.SetThreads"/>); returns the count in effect.</summary>
    public int ApplyThreads(int threads)
    {
        var (applied, warning) = ProcessResources.SetThreads(threads);
        if (warning is not null)
        {
            Err.WriteLine($"effnet: warning: {OptionFlags.Rewrite(warning)}");
        }
        return applied;
    }
}
