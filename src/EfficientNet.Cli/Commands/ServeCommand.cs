using System.CommandLine;
using EfficientNet.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EfficientNet.Cli.Commands;

/// <summary>
/// <c>effnet serve</c>: a thin Kestrel host over <see cref="EfficientNetServing"/>; SIGTERM or Ctrl+C stops accepting,
/// lets the requests in flight finish, and exits 0.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CliIO io)
    {
        var d = new ServingOptions { Model = "" };
        var model = new Argument<string>("model") { Description = "The model: an effnet checkpoint or .onnx export (both record the variant, classes and preprocessing)" };
        var host = new Option<string>("--host") { Description = "Address to listen on (0.0.0.0: every interface)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (0: any free one, printed at start)", DefaultValueFactory = _ => 8080 };
        var name = new Option<string?>("--name") { Description = "The name clients address the model by (default: the file name without its extension)" };
        var engine = CommonOptions.Engine();
        var threads = CommonOptions.Threads(withEngine: true, "Intra-op threads, shared evenly among the workers (0: the engine's default for one worker; for several, one per logical core)");
        var workers = new Option<int>("--workers") { Description = "Batches run at once, each with threads / workers intra-op threads (a batch alone gets every thread): as many as the threads gives more throughput under load on few cores; above 1 opens the model twice (ONNX Runtime engine)", DefaultValueFactory = _ => d.Workers };
        var device = CommonOptions.Device();
        var maxBatch = new Option<int>("--max-batch") { Description = "Most images run in one forward pass", DefaultValueFactory = _ => d.MaxBatch };
        var maxDelay = new Option<double>("--max-delay-ms") { Description = "Longest wait, from the first queued image, for more images to join its batch", DefaultValueFactory = _ => d.MaxDelay.TotalMilliseconds };
        var maxQueue = new Option<int>("--max-queue") { Description = "Most images waiting for a forward pass; more are answered 503 with Retry-After", DefaultValueFactory = _ => d.MaxQueue };
        var maxBody = new Option<double>("--max-body-mb") { Description = "Largest request body in MiB; larger ones are answered 413", DefaultValueFactory = _ => d.MaxBodyBytes / (double)(1 << 20) };
        var command = new Command("serve", "Serve a model over HTTP: POST /v1/classify, the Open Inference Protocol's /v2 endpoints, /metrics; dynamic batching")
        {
            model, host, port, name, engine, threads, workers, device, maxBatch, maxDelay, maxQueue, maxBody,
        };
        command.SetAction(io.Guard(parse =>
        {
            io.UseRetainingAllocator();
            var options = new ServingOptions
            {
                Model = parse.GetValue(model)!,
                Name = parse.GetValue(name),
                Engine = parse.GetValue(engine),
                Threads = parse.GetValue(threads),
                Workers = parse.GetValue(workers),
                Device = parse.GetValue(device)!,
                MaxBatch = parse.GetValue(maxBatch),
                MaxDelay = TimeSpan.FromMilliseconds(parse.GetValue(maxDelay)),
                MaxQueue = parse.GetValue(maxQueue),
                MaxBodyBytes = (long)(parse.GetValue(maxBody) * (1 << 20)),
            };
            Serve(io, options, parse.GetValue(host)!, parse.GetValue(port));
        }));
        return command;
    }

    private static void Serve(CliIO io, ServingOptions options, string host, int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://{host}:{port}");
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            // Slow clients are let go: headers within 10 s, bodies at 240 bytes/s or faster after a 5 s grace.
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(240, TimeSpan.FromSeconds(5));
        });
        builder.Services.AddEfficientNet(options);
        using var app = builder.Build();
        app.MapEfficientNet();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            io.Out.WriteLine($"serving {options.ServedName} on {string.Join(", ", addresses)} (POST /v1/classify, /v2/models/{options.ServedName}/infer, /metrics); Ctrl+C stops");
            io.Out.Flush();
        });
        app.Run();
    }
}
