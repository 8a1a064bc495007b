using System.CommandLine;
using EfficientNet.Analysis;
using EfficientNet.Cli.Output;
using EfficientNet.Models;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet summary</c>: per-layer output shapes, parameters and MACs.</summary>
internal static class SummaryCommand
{
    public static Command Create(CliIO io)
    {
        var variant = new Argument<string>("variant") { Description = "Model variant, e.g. b0" };
        var classes = new Option<int>("--classes") { Description = "Number of output classes", DefaultValueFactory = _ => 1000 };
        var resolution = new Option<int?>("--resolution") { Description = "Input resolution (default: the variant's; 32 with --cifar)" };
        var cifar = new Option<bool>("--cifar") { Description = "CIFAR variant: stride-1 stem for 32x32 input" };
        var json = CommonOptions.Json();
        var command = new Command("summary", "Per-layer table: name, type, output shape, parameters, MACs; totals with trainable and frozen parameters")
        {
            variant, classes, resolution, cifar, json,
        };
        command.SetAction(io.Guard(parse =>
        {
            var options = new EfficientNetOptions { NumClasses = parse.GetValue(classes), CifarStem = parse.GetValue(cifar), Resolution = parse.GetValue(resolution) };
            using var model = EfficientNetModel.Create(parse.GetValue(variant)!, options);
            string title = $"{model.Spec.DisplayName}{(model.Options.CifarStem ? " (CIFAR stem)" : "")}, {model.NumClasses} classes, {model.Resolution}x{model.Resolution} input";
            var report = ModelSummary.Summarize(model, model.Resolution, title);
            if (parse.GetValue(json))
            {
                io.Json(new
                {
                    model = report.Model,
                    report.Resolution,
                    report.Params,
                    report.TrainableParams,
                    report.FrozenParams,
                    report.Macs,
                    layers = report.Layers.Select(l => new { l.Name, l.Type, l.OutputShape, l.Params, l.Macs }),
                });
                return;
            }
            io.Out.WriteLine(report.Model);
            io.Out.WriteLine();
            var table = new TextTable("layer", "type", "output shape", ">params", ">MACs");
            foreach (var l in report.Layers)
            {
                table.Add(l.Name, l.Type, Format.Shape(l.OutputShape), l.Params == 0 ? "" : Format.Count(l.Params), l.Macs == 0 ? "" : Format.Count(l.Macs));
            }
            table.Write(io.Out);
            io.Out.WriteLine();
            io.Out.WriteLine($"total params:     {Format.Count(report.Params)}");
            io.Out.WriteLine($"trainable params: {Format.Count(report.TrainableParams)}");
            io.Out.WriteLine($"frozen params:    {Format.Count(report.FrozenParams)}");
            io.Out.WriteLine($"MACs per image:   {Format.Count(report.Macs)} ({Format.GMacs(report.Macs)} G)");
        }));
        return command;
    }
}
