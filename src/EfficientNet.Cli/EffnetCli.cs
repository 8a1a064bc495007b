using System.CommandLine;
using EfficientNet.Cli.Commands;

namespace EfficientNet.Cli;

/// <summary>The <c>effnet</c> command line: every verb is a thin layer over a library call.</summary>
public static class EffnetCli
{
    /// <summary>Exit code for errors the user can fix (bad option, missing or mismatched file).</summary>
    public const int UserError = 1;

    /// <summary>Exit code of a run stopped by Ctrl+C after writing its checkpoint (as shells report SIGINT).</summary>
    public const int Interrupted = 130;

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given streams; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("EfficientNet for .NET: build, inspect, train, export, benchmark and run EfficientNet image classifiers.");
        var io = new CliIO(output, error);
        root.Subcommands.Add(ScaleCommand.Create(io));
        root.Subcommands.Add(VariantsCommand.Create(io));
        root.Subcommands.Add(SummaryCommand.Create(io));
        root.Subcommands.Add(CompareCommand.Create(io));
        root.Subcommands.Add(PredictCommand.Create(io));
        root.Subcommands.Add(ExportCommand.Create(io));
        root.Subcommands.Add(BenchCommand.Create(io));
        root.Subcommands.Add(TrainCommand.Create(io));
        root.Subcommands.Add(EvaluateCommand.Create(io));
        root.Subcommands.Add(FineTuneCommand.Create(io));
        root.Subcommands.Add(WeightsCommand.Create(io));
        return root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
    }
}
