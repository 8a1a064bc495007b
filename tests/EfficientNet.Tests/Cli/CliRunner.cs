using System.Text.Json;
using EfficientNet.Cli;

namespace EfficientNet.Tests.Cli;

/// <summary>Runs the effnet command line in-process and captures what it prints.</summary>
internal static class CliRunner
{
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = EffnetCli.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    public static JsonElement Json(params string[] args)
    {
        var (exit, stdout, stderr) = Run(args);
        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        return JsonDocument.Parse(stdout).RootElement;
    }

    /// <summary>Asserts a user error: non-zero exit, one line on stderr, no stack trace.</summary>
    public static string Fails(params string[] args)
    {
        var (exit, _, stderr) = Run(args);
        Assert.Equal(EffnetCli.UserError, exit);
        string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("effnet: error: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        return line;
    }
}
