using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EfficientNet.Serving;

/// <summary>
/// Puts a classifier behind HTTP in an ASP.NET Core app: <see cref="AddEfficientNet"/> registers the model (opened and
/// warmed up when the app starts), <see cref="MapEfficientNet"/> maps its endpoints: <c>POST /v1/classify</c> (one
/// image in the body, or several as multipart), the Open Inference Protocol's <c>/v2</c> REST endpoints (KServe v2,
/// as Triton and KServe clients speak it), <c>GET /metrics</c> (Prometheus text format) and <c>GET /</c>, a page to try
/// the model (<see cref="ServingOptions.Page"/>).
/// </summary>
public static class EfficientNetServing
{
    /// <summary>Registers the model <paramref name="options"/> describe; it is opened when the host starts.</summary>
    /// <exception cref="EfficientNetException">An option out of range.</exception>
    public static IServiceCollection AddEfficientNet(this IServiceCollection services, ServingOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(new ModelServer(options));
        services.AddHostedService(provider => provider.GetRequiredService<ModelServer>());
        return services;
    }

    /// <summary>Maps the model's endpoints (see <see cref="EfficientNetServing"/>).</summary>
    public static IEndpointRouteBuilder MapEfficientNet(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var server = endpoints.ServiceProvider.GetRequiredService<ModelServer>();
        void Map(string method, string route, Func<HttpContext, Task<IResult>> handle) =>
            endpoints.MapMethods(route, [method], context => Answer(context, server, route, handle));
        Map("POST", "/v1/classify", context => ImageRequests.Classify(context, server));
        Map("GET", "/v2", _ => Task.FromResult(Results.Json(new { name = "EfficientNet.NET", version = typeof(EfficientNetServing).Assembly.GetName().Version?.ToString(3), extensions = Array.Empty<string>() })));
        Map("GET", "/v2/health/live", _ => Task.FromResult(Results.Json(new { live = true })));
        Map("GET", "/v2/health/ready", _ => Task.FromResult(Readiness(server, new { ready = server.Ready })));
        Map("GET", "/v2/models/{name}", context => Task.FromResult(InferenceProtocol.Metadata(server, Model(context, server))));
        Map("GET", "/v2/models/{name}/ready", context => Task.FromResult(Readiness(server, new { name = Model(context, server), ready = server.Ready })));
        Map("POST", "/v2/models/{name}/infer", context => InferenceProtocol.Infer(context, server, Model(context, server)));
        endpoints.MapGet("/metrics", () => Results.Text(server.Metrics.Text(), "text/plain; version=0.0.4"));
        if (server.Options.Page)
        {
            string page = Page(server.Options.ServedName);
            endpoints.MapGet("/", () => Results.Content(page, "text/html; charset=utf-8"));
        }
        return endpoints;
    }

    // The page to try the model, with its name filled in.
    private static string Page(string model)
    {
        using var stream = typeof(EfficientNetServing).Assembly.GetManifestResourceStream("EfficientNet.Serving.index.html")
            ?? throw new InvalidOperationException("the page resource is missing from EfficientNet.Serving");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Replace("{{model}}", System.Net.WebUtility.HtmlEncode(model), StringComparison.Ordinal);
    }

    private static IResult Readiness(ModelServer server, object body) => Results.Json(body, statusCode: server.Ready ? 200 : 503);

    // The model a /v2/models/{name} route names: this server's, else 404.
    private static string Model(HttpContext context, ModelServer server) =>
        context.GetRouteValue("name") is string name && name == server.Options.ServedName
            ? name
            : throw new ServingException(404, $"unknown model '{context.GetRouteValue("name")}'; this server serves '{server.Options.ServedName}'");

    // Runs a handler, answers its errors in the protocol's {"error": "..."} form and counts the request.
    private static async Task Answer(HttpContext context, ModelServer server, string route, Func<HttpContext, Task<IResult>> handle)
    {
        var clock = Stopwatch.StartNew();
        IResult result;
        try
        {
            result = await handle(context);
        }
        catch (Exception e) when (Status(e) is int status)
        {
            if (status == 503)
            {
                context.Response.Headers.RetryAfter = "1";
            }
            result = Results.Json(new { error = e.Message }, statusCode: status);
        }
        await result.ExecuteAsync(context);
        server.Metrics.Request(route, context.Response.StatusCode, clock.Elapsed.TotalSeconds);
    }

    private static int? Status(Exception e) => e switch
    {
        ServingException serving => serving.Status,
        QueueFullException => 503,
        TimeoutException => 503,
        BadHttpRequestException bad => bad.StatusCode,
        InvalidDataException => 400,
        EfficientNetException => 400,
        _ => null,
    };

    /// <summary>
    /// Refuses with 413 a body announced larger than <paramref name="limit"/>, and has the server refuse one that grows
    /// past it while it is read (a chunked body announces no length).
    /// </summary>
    internal static void LimitBody(HttpContext context, long limit)
    {
        if (context.Request.ContentLength > limit)
        {
            throw new ServingException(413, $"the body has {context.Request.ContentLength} bytes, more than the {limit} this server takes");
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit;
        }
    }

    /// <summary>The request body, refused with 413 when it is larger than the limit.</summary>
    internal static async Task<byte[]> ReadBody(HttpContext context, long limit)
    {
        LimitBody(context, limit);
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        return body.ToArray();
    }

    /// <summary>The logits of <paramref name="images"/> through the batcher, within the request's time; <paramref name="arrival"/> ends as they are queued.</summary>
    internal static async Task<float[][]> Logits(HttpContext context, ModelServer server, IReadOnlyList<float[]> images, DynamicBatcher.Arrival arrival)
    {
        using var abandoned = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        try
        {
            var queued = server.Batcher.Logits(images, arrival, abandoned.Token);
            return await queued.WaitAsync(server.Options.RequestTimeout, context.RequestAborted);
        }
        catch (TimeoutException)
        {
            await abandoned.CancelAsync();
            throw new TimeoutException($"no answer within {server.Options.RequestTimeout.TotalSeconds:0.#} s: the server is busy; retry shortly");
        }
    }
}

/// <summary>A request answered with <see cref="Status"/> and its message.</summary>
internal sealed class ServingException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}
