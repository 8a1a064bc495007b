using System.CommandLine;
using EfficientNet.Cli.Output;
using EfficientNet.IO;
using EfficientNet.Weights;

namespace EfficientNet.Cli.Commands;

/// <summary><c>effnet weights list|download</c>: the registry of official pretrained weights.</summary>
internal static class WeightsCommand
{
    public static Command Create(CliIO io)
    {
        var command = new Command("weights", "Official pretrained weights: list them, or download and verify one into the cache");
        command.Subcommands.Add(List(io));
        command.Subcommands.Add(Download(io));
        return command;
    }

    private static Command List(CliIO io)
    {
        var json = CommonOptions.Json();
        var command = new Command("list", "Every registered weights file with its source, hash prefix, size and preprocessing") { json };
        command.SetAction(io.Guard(parse =>
        {
            var all = PretrainedRegistry.All;
            if (parse.GetValue(json))
            {
                io.Json(all.Select(w => new
                {
                    w.Variant,
                    w.Tag,
                    w.Url,
                    w.Sha256Prefix,
                    w.Params,
                    w.Top1,
                    w.License,
                    preprocessing = new
                    {
                        w.Preprocessing.ResizeSize,
                        w.Preprocessing.CropSize,
                        interpolation = w.Preprocessing.Interpolation.ToString().ToLowerInvariant(),
                        mean = w.Preprocessing.Normalization.Mean,
                        std = w.Preprocessing.Normalization.Std,
                    },
                }));
                return;
            }
            var table = new TextTable("variant", "tag", ">params", ">top-1 %", ">resize", ">crop", "interpolation", "sha256 prefix", "url");
            foreach (var w in all)
            {
                table.Add(w.Variant, w.Tag, Format.Count(w.Params), Format.Fixed(w.Top1, 3), w.Preprocessing.ResizeSize, w.Preprocessing.CropSize,
                    w.Preprocessing.Interpolation.ToString().ToLowerInvariant(), w.Sha256Prefix, w.Url);
            }
            table.Write(io.Out);
            io.Out.WriteLine();
            io.Out.WriteLine("Top-1: ImageNet accuracy torchvision reports for the weights. Licence: " + all[0].License + ".");
        }));
        return command;
    }

    private static Command Download(CliIO io)
    {
        var variant = new Argument<string>("variant") { Description = "Variant, e.g. b0 or v2-s" };
        var tag = new Option<string?>("--tag") { Description = "Weights tag (default: torchvision's DEFAULT)" };
        var cache = new Option<string>("--cache") { Description = "Cache folder", DefaultValueFactory = _ => PretrainedRegistry.DefaultCacheDirectory };
        var from = new Option<string?>("--from")
        {
            Description = "Fetch from this http(s) URL (a mirror) or local file instead of download.pytorch.org; the SHA-256 prefix is checked all the same",
        };
        var command = new Command("download", "Download weights into the cache and verify their SHA-256 prefix (offline: says where to put the file)")
        {
            variant, tag, cache, from,
        };
        command.SetAction(io.Guard(parse =>
        {
            var weights = PretrainedRegistry.Get(parse.GetValue(variant)!, parse.GetValue(tag));
            string path = CliIO.WithInterruption(cancellation =>
                PretrainedRegistry.EnsureDownloaded(weights, parse.GetValue(cache)!, parse.GetValue(from), new DownloadProgressLine(io.Err), cancellation));
            io.Out.WriteLine($"{weights.Variant} {weights.Tag}: {path} (SHA-256 starts with {weights.Sha256Prefix}, as published)");
        }));
        return command;
    }

    /// <summary>Download progress on stderr: a line at every tenth (or every 10 MB when the size is unknown).</summary>
    private sealed class DownloadProgressLine(TextWriter writer) : IProgress<(long Bytes, long? Total)>
    {
        private long shown = -1;

        public void Report((long Bytes, long? Total) value)
        {
            long step = value.Total is long total ? 10 * value.Bytes / Math.Max(total, 1) : value.Bytes / (10 << 20);
            if (step == shown)
            {
                return;
            }
            shown = step;
            string of = value.Total is long size ? $" of {Format.Fixed(size / 1048576.0, 1)} MiB" : "";
            writer.WriteLine($"download: {Format.Fixed(value.Bytes / 1048576.0, 1)} MiB{of}");
        }
    }
}
