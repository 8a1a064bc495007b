using EfficientNet.Cli;
using EfficientNet.Distributed;

// In a data-parallel job (an MPI launcher started this process as one of several) rank 0 prints progress and results,
// the others errors only. A launcher may forward output through a pseudo-terminal of its own (Open MPI's does): it is
// written as plain lines, and with no terminal type, so that .NET's console writes no terminal control codes into it.
var launch = Launch.FromEnvironment(Environment.GetEnvironmentVariable);
if (launch is not null)
{
    Environment.SetEnvironmentVariable("TERM", null);
}
TextWriter output = launch is null ? Console.Out : launch.Rank > 0 ? TextWriter.Null : new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
// Which convolution kernels run on a CPU that needs its convolutions checked, and why: once, from rank 0.
if (launch is null || launch.Rank == 0)
{
    EfficientNet.Runtime.CpuKernels.Notes = note => Console.Error.WriteLine($"effnet: note: {note}");
}
int exit = EffnetCli.Run(args, output, Console.Error);
output.Flush();
World.Finish(failed: exit is not 0 and not EffnetCli.Interrupted, stopped: exit == EffnetCli.Interrupted);
return exit;
