using EfficientNet.Cli;

return EffnetCli.Run(args, Console.Out, Console.Error);
