using System.Diagnostics;

namespace EfficientNet.Tests.Cli;

/// <summary>Runs the effnet tool as a child process (for what must not happen in the test host: environment, signals, MPI).</summary>
internal static class EffnetProcess
{
    /// <summary>The tool's entry assembly, built beside the tests.</summary>
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "effnet.dll");

    /// <summary>Runs <c>dotnet effnet.dll <paramref name="args"/></c> with <paramref name="environment"/> added; returns its exit code and output.</summary>
    public static (int Exit, string Out, string Err) Run(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet", [Dll, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }
}
