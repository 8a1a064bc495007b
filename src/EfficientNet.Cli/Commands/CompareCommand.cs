using System.CommandLine;
using EfficientNet.Analysis;
using EfficientNet.Cli.Analysis;
using EfficientNet.Cli.Output;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet compare</c>: the architecture comparison of Keras's EfficientNet tutorial, measured.</summary>
internal static class CompareCommand
{
    public static Command Create(CliIO io)
    {
        var json = CommonOptions.Json();
        var command = new Command("compare", "Compare VGG, ResNet, DenseNet and EfficientNet: parameters and MACs measured on built models, published top-1, accuracy per parameter and per MAC")
        {
            json,
        };
        command.SetAction(io.Guard(parse =>
        {
            IReadOnlyList<ComparisonRow> rows;
            using (var progress = io.Progress(ArchitectureComparison.Count))
            {
                rows = ArchitectureComparison.Measure(progress.Step);
            }
            if (parse.GetValue(json))
            {
                io.Json(rows.Select(r => new { r.Name, r.Resolution, r.Params, r.Macs, r.PublishedTop1, r.Top1Source, r.Top1PerMillionParams, r.Top1PerGMac, r.Source }));
                return;
            }
            var table = new TextTable("model", ">input", ">params (M)", ">GMACs", ">top-1 % (published)", ">top-1 per M params", ">top-1 per GMAC", "params/MACs", "top-1 source");
            foreach (var r in rows)
            {
                table.Add(r.Name, r.Resolution, Format.Fixed(r.Params / 1e6, 1), Format.GMacs(r.Macs), Format.Fixed(r.PublishedTop1, 1),
                    Format.Fixed(r.Top1PerMillionParams, 2), Format.Fixed(r.Top1PerGMac, 1), r.Source == FigureSource.Measured ? "measured" : "quoted (tutorial)", r.Top1Source);
            }
            table.Write(io.Out);
            io.Out.WriteLine();
            io.Out.WriteLine("Top-1 accuracies are published ImageNet figures (where from: the last column), not measured here. MACs: multiply-accumulates of convolutions and linear layers for one image.");
        }));
        return command;
    }
}
