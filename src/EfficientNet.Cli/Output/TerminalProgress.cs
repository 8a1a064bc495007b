namespace EfficientNet.Cli.Output;

/// <summary>
/// "measuring EfficientNet-B7 (8/15)" redrawn in place on a terminal while a verb builds models one by one, then
/// erased; nothing when there is no terminal to draw on (a pipe, a log, a test).
/// </summary>
internal sealed class TerminalProgress(TextWriter? terminal, int total) : IDisposable
{
    private const int Width = 72;
    private int done;

    /// <summary>Says that <paramref name="what"/> is being measured now.</summary>
    public void Step(string what)
    {
        done++;
        terminal?.Write(("\rmeasuring " + what + $" ({done}/{total})").PadRight(Width));
        terminal?.Flush();
    }

    /// <summary>Erases the line.</summary>
    public void Dispose()
    {
        terminal?.Write("\r" + new string(' ', Width) + "\r");
        terminal?.Flush();
    }
}
