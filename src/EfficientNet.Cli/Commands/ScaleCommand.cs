using System.CommandLine;
using EfficientNet.Architecture;
using EfficientNet.Cli.Analysis;
using EfficientNet.Cli.Output;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet scale</c>: the compound-scaling calculator beside the published variants.</summary>
internal static class ScaleCommand
{
    public static Command Create(CliIO io)
    {
        var alpha = new Option<double>("--alpha") { Description = "Depth base (d = alpha^phi)", DefaultValueFactory = _ => CompoundScaling.DefaultAlpha };
        var beta = new Option<double>("--beta") { Description = "Width base (w = beta^phi)", DefaultValueFactory = _ => CompoundScaling.DefaultBeta };
        var gamma = new Option<double>("--gamma") { Description = "Resolution base (r = gamma^phi)", DefaultValueFactory = _ => CompoundScaling.DefaultGamma };
        var phiMax = new Option<int>("--phi-max") { Description = "Largest compound coefficient", DefaultValueFactory = _ => 7 };
        var json = CommonOptions.Json();
        var command = new Command("scale", "Compound-scaling coefficients per phi, the FLOPs constraint, and the formula's resolution beside the published one")
        {
            alpha, beta, gamma, phiMax, json,
        };
        command.SetAction(io.Guard(parse =>
        {
            double a = parse.GetValue(alpha), b = parse.GetValue(beta), g = parse.GetValue(gamma);
            var rows = CompoundScaling.Table(a, b, g, parse.GetValue(phiMax));
            double constraint = CompoundScaling.FlopsConstraint(a, b, g);
            if (parse.GetValue(json))
            {
                io.Json(new
                {
                    alpha = a,
                    beta = b,
                    gamma = g,
                    constraint,
                    rows = rows.Select(r => new
                    {
                        r.Phi,
                        r.Depth,
                        r.Width,
                        r.ResolutionMultiplier,
                        r.Resolution,
                        r.FlopsMultiplier,
                        published = r.Published is { } p ? new { p.Name, p.Resolution, p.Width, p.Depth } : null,
                    }),
                });
                return;
            }
            io.Out.WriteLine($"FLOPs constraint: alpha * beta^2 * gamma^2 = {Format.Fixed(a, 2)} * {Format.Fixed(b, 2)}^2 * {Format.Fixed(g, 2)}^2 = {Format.Fixed(constraint, 4)} (target about 2: each step of phi about doubles the FLOPs)");
            io.Out.WriteLine();
            var table = new TextTable(">phi", ">depth d", ">width w", ">res. r", ">formula res.", ">FLOPs x", "published", ">res.", ">width", ">depth");
            foreach (var r in rows)
            {
                table.Add(r.Phi, Format.Fixed(r.Depth, 3), Format.Fixed(r.Width, 3), Format.Fixed(r.ResolutionMultiplier, 3), r.Resolution, Format.Fixed(r.FlopsMultiplier, 2),
                    r.Published?.DisplayName ?? "-", r.Published?.Resolution.ToString() ?? "-", r.Published is { } p1 ? Format.Fixed(p1.Width, 1) : "-", r.Published is { } p2 ? Format.Fixed(p2.Depth, 1) : "-");
            }
            table.Write(io.Out);
            io.Out.WriteLine();
            io.Out.WriteLine("The published B1-B7 were tuned after the grid search, so they differ from the formula's values.");
        }));
        return command;
    }
}
