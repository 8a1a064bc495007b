using System.CommandLine;
using EfficientNet.Analysis;
using EfficientNet.Cli.Analysis;
using EfficientNet.Cli.Output;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet variants</c>: the registry, with the parameters and MACs of the models this library builds.</summary>
internal static class VariantsCommand
{
    public static Command Create(CliIO io)
    {
        var json = CommonOptions.Json();
        var command = new Command("variants", "List the variants: resolution, width, depth, dropout, parameters and MACs, published top-1")
        {
            json,
        };
        command.SetAction(io.Guard(parse =>
        {
            var rows = VariantCatalog.Rows();
            if (parse.GetValue(json))
            {
                io.Json(rows.Select(r => new { r.Name, r.Resolution, r.Width, r.Depth, r.Dropout, r.Params, r.Macs, r.PublishedTop1, r.Top1Source }));
                return;
            }
            var table = new TextTable("variant", ">resolution", ">width", ">depth", ">dropout", ">params", ">GMACs", ">top-1 % (published)", "top-1 source");
            foreach (var r in rows)
            {
                table.Add(r.DisplayName, r.Resolution, Format.Fixed(r.Width, 1), Format.Fixed(r.Depth, 1), Format.Fixed(r.Dropout, 1), Format.Count(r.Params), Format.GMacs(r.Macs), Format.Fixed(r.PublishedTop1, 1), r.Top1Source);
            }
            table.Write(io.Out);
            io.Out.WriteLine();
            io.Out.WriteLine("params and GMACs (multiply-accumulates per image at the native resolution, 1000 classes) are those of the models built here, counted layer by layer from the architecture tables.");
        }));
        return command;
    }
}
