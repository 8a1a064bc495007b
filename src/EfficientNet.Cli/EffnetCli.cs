using System.CommandLine;
using EfficientNet.Cli.Commands;

namespace EfficientNet.Cli;

/// <summary>
/// The <c>effnet</c> command line: every verb maps its options onto library calls. Besides the libraries' public API
/// it uses a few of their internal types (the benchmarks, the variant catalogue, thread and MPI-world set-up, atomic
/// files, the download cache) that are not promised to library users. The libraries name options by property;
/// <see cref="OptionFlags"/> shows them as flags.
/// </summary>
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
        root.Subcommands.Add(ServeCommand.Create(io));
        ShowEnumsInLowercase(root);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line, as every other error, and where to look (the whole help after an error hid the error).
            error.WriteLine($"effnet: error: {string.Join("; ", parse.Errors.Select(e => Describe(e, parse.CommandResult.Command).TrimEnd('.')))} ('{CommandLine(parse.CommandResult.Command)} --help' lists the options)");
            return UserError;
        }
        return parse.Action is System.CommandLine.Help.HelpAction
            ? WriteHelp(parse, output, error)
            : parse.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    /// <summary>A parse error in one line, a value the option cannot take said in the option's own words.</summary>
    private static string Describe(System.CommandLine.Parsing.ParseError error, Command command)
    {
        var match = System.Text.RegularExpressions.Regex.Match(error.Message, "^Cannot parse argument '(.*)' for option '(.*)' as expected type '([^']*)'");
        if (!match.Success || Options(command).FirstOrDefault(o => o.Name == match.Groups[2].Value) is not { } option)
        {
            return error.Message.ReplaceLineEndings(" ");
        }
        var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        string expected = type.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(type).Select(n => n.ToLowerInvariant()))}"
            : type == typeof(int) || type == typeof(long) ? "a whole number"
            : type == typeof(double) || type == typeof(float) ? "a number"
            : type == typeof(bool) ? "true or false"
            : $"a {type.Name}";
        return $"{option.Name} '{match.Groups[1].Value}': expected {expected}";
    }

    /// <summary>What is typed to run <paramref name="command"/>, e.g. <c>effnet bench infer</c>.</summary>
    private static string CommandLine(Command command)
    {
        var names = new List<string>();
        for (Symbol? at = command; at is Command verb and not RootCommand; at = verb.Parents.FirstOrDefault())
        {
            names.Insert(0, verb.Name);
        }
        return string.Join(' ', names.Prepend("effnet"));
    }

    /// <summary>Choices of enum options as they are typed and described, <c>cifar10|folder</c>, not <c>Cifar10|Folder</c> (parsing ignores case).</summary>
    private static void ShowEnumsInLowercase(RootCommand root)
    {
        foreach (var option in Options(root))
        {
            if (EnumType(option) is { } type)
            {
                option.HelpName = string.Join('|', Enum.GetNames(type).Select(n => n.ToLowerInvariant()));
            }
        }
    }

    /// <summary>
    /// Help as System.CommandLine writes it, with the defaults of enum options in lowercase too
    /// (<c>[default: cifar10]</c>; its help builder, which could say so, is not public).
    /// </summary>
    private static int WriteHelp(ParseResult parse, TextWriter output, TextWriter error)
    {
        var help = new StringWriter();
        int exit = parse.Invoke(new InvocationConfiguration { Output = help, Error = error });
        string text = help.ToString();
        foreach (var option in parse.CommandResult.Command.Options.Where(o => EnumType(o) is not null && o.HasDefaultValue))
        {
            string name = option.GetDefaultValue()?.ToString() ?? "";
            text = text.Replace($"[default: {name}]", $"[default: {name.ToLowerInvariant()}]", StringComparison.Ordinal);
        }
        output.Write(text);
        return exit;
    }

    private static Type? EnumType(Option option) => (Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType) is { IsEnum: true } type ? type : null;

    private static IEnumerable<Option> Options(Command command) => command.Options.Concat(command.Subcommands.SelectMany(Options));
}
