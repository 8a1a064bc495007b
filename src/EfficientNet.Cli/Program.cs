using EfficientNet.Cli;
using EfficientNet.Training.Distributed;

// In a data-parallel job (an MPI launcher started this process as one of several) rank 0 prints progress and results,
// the others errors only. A launcher may forward output through a pseudo-terminal of its own (Open MPI's does): it is
// written as plain lines, and with no terminal type, so that .NET's console writes no terminal control codes into it.
int? launchedRank = World.LaunchedRank;
if (launchedRank is not null)
{
    Environment.SetEnvironmentVariable("TERM", null);
}
TextWriter output = launchedRank is null ? Console.Out : launchedRank > 0 ? TextWriter.Null : new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
// Which convolution kernels run on a CPU that needs its convolutions checked, and why: once, from rank 0.
if (launchedRank is null or 0)
{
    EfficientNet.Runtime.ProcessResources.KernelNotes = note => Console.Error.WriteLine($"effnet: note: {note}");
    // A TurboJPEG library named by EFFNET_TURBOJPEG that is not used: JPEG is still decoded, more slowly; say why.
    if (EfficientNet.Imaging.ImageDecoder.TurboJpegProblem is { } problem)
    {
        Console.Error.WriteLine($"effnet: note: {problem}");
    }
}
int exit = EffnetCli.Run(args, output, Console.Error);
output.Flush();
World.Finish(failed: exit is not 0 and not EffnetCli.Interrupted, stopped: exit == EffnetCli.Interrupted);
return exit;
