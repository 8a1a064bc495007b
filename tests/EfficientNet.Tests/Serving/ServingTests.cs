using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EfficientNet.Imaging;
using EfficientNet.Inference;
using EfficientNet.Serving;
using EfficientNet.Tests.Cli;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EfficientNet.Tests.Serving;

/// <summary>
/// A real Kestrel on a loopback port with the committed CIFAR-10 model, driven by a real HTTP client: answers equal
/// the in-process classifier's, concurrent requests share batches, bad input gets its status and the server goes on.
/// </summary>
public sealed class ServingTests : IAsyncLifetime, IDisposable
{
    private static readonly string Model = Path.Combine(TestPaths.RepoRoot, "models", "cifar10-b0.safetensors");
    private static readonly string[] Photos = [.. Directory.GetFiles(Path.Combine(TestPaths.SharedData, "flowers12", "test"), "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Take(12)];

    private WebApplication app = null!;
    private HttpClient client = null!;

    public async Task InitializeAsync()
    {
        app = Build(new ServingOptions
        {
            Model = Model, Name = "cifar", Threads = 2, MaxBatch = 16, MaxDelay = TimeSpan.FromMilliseconds(200), MaxQueue = 16, MaxBodyBytes = 1 << 20,
        });
        await app.StartAsync();
        client = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
    }

    // An app on a free loopback port that serves the model as the options say.
    private static WebApplication Build(ServingOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddEfficientNet(options);
        var built = builder.Build();
        built.MapEfficientNet();
        return built;
    }

    public async Task DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    public void Dispose() => client.Dispose();

    // What the in-process classifier answers for each photo (opened once: an ONNX export per open would be slow).
    private static readonly Lazy<IReadOnlyList<IReadOnlyList<Prediction>>> Expected = new(() =>
    {
        using var classifier = Classifier.Open(Model, new ClassifierOptions { Threads = 2 });
        return [.. Photos.Select(photo => classifier.Predict(photo, top: 3))];
    });

    private static IReadOnlyList<Prediction> InProcess(string photo) => Expected.Value[Array.IndexOf(Photos, photo)];

    private static void AssertSame(IReadOnlyList<Prediction> expected, JsonElement predictions)
    {
        var served = predictions.EnumerateArray().ToList();
        Assert.Equal(expected.Select(p => p.Index), served.Select(p => p.GetProperty("index").GetInt32()));
        Assert.Equal(expected.Select(p => p.Label), served.Select(p => p.GetProperty("label").GetString()));
        foreach (var (p, s) in expected.Zip(served))
        {
            Assert.InRange(s.GetProperty("probability").GetDouble(), p.Probability - 1e-5, p.Probability + 1e-5);
        }
    }

    private async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> Post(string path, HttpContent content)
    {
        var response = await client.PostAsync(path, content);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    [Fact]
    public async Task Classify_AnswersAsTheClassifierDoes_ForOneImageAndForMultipart()
    {
        var (status, body, _) = await Post("/v1/classify?top=3", new ByteArrayContent(File.ReadAllBytes(Photos[0])));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("cifar", body.GetProperty("model").GetString());
        AssertSame(InProcess(Photos[0]), body.GetProperty("predictions"));

        using var form = new MultipartFormDataContent();
        foreach (string photo in Photos[..2])
        {
            form.Add(new ByteArrayContent(File.ReadAllBytes(photo)), "images", Path.GetFileName(photo));
        }
        (status, body, _) = await Post("/v1/classify?top=3", form);
        Assert.Equal(HttpStatusCode.OK, status);
        var images = body.GetProperty("images").EnumerateArray().ToList();
        Assert.Equal(Photos[..2].Select(Path.GetFileName), images.Select(i => i.GetProperty("name").GetString()));
        for (int i = 0; i < 2; i++)
        {
            AssertSame(InProcess(Photos[i]), images[i].GetProperty("predictions"));
        }
    }

    [Fact]
    public async Task ConcurrentRequests_ShareBatches_AndEachAnswerIsItsImagesOwn()
    {
        var metrics = app.Services.GetRequiredService<ModelServer>().Metrics;
        long before = metrics.BatchCount;
        var answers = await Task.WhenAll(Photos.Select(photo => Post("/v1/classify?top=3", new ByteArrayContent(File.ReadAllBytes(photo)))));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.InRange(metrics.BatchCount - before, 1, Photos.Length - 1);
        for (int i = 0; i < Photos.Length; i++)
        {
            AssertSame(InProcess(Photos[i]), answers[i].Body.GetProperty("predictions"));
        }
        string text = await client.GetStringAsync("/metrics");
        Assert.Contains("effnet_requests_total{route=\"/v1/classify\",status=\"200\"}", text, StringComparison.Ordinal);
        Assert.Contains("effnet_batch_size_count", text, StringComparison.Ordinal);
        // What runs: the model, its engine and threads, this CPU's vector instructions as .NET sees them, TurboJPEG.
        string isa = System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "avx512" : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "avx2" : "";
        Assert.Matches($"effnet_info\\{{model=\"cifar\",engine=\"onnxruntime\",threads=\"2\",workers=\"1\",cpu=\"[^\"]+\",isa=\"{isa}[^\"]*\",cores=\"{Environment.ProcessorCount}\",jpeg=\"turbojpeg\"\\}} 1", text);
    }

    [Fact]
    public async Task TwoWorkers_AnswerConcurrentRequestsAsTheClassifierDoes()
    {
        await using var workers = Build(new ServingOptions { Model = Model, Name = "cifar", Threads = 2, Workers = 2, MaxBatch = 4 });
        await workers.StartAsync();
        using var other = new HttpClient { BaseAddress = new Uri(workers.Urls.Single()) };
        var answers = await Task.WhenAll(Photos.Select(photo => other.PostAsync("/v1/classify?top=3", new ByteArrayContent(File.ReadAllBytes(photo)))));

        for (int i = 0; i < Photos.Length; i++)
        {
            Assert.Equal(HttpStatusCode.OK, answers[i].StatusCode);
            AssertSame(InProcess(Photos[i]), JsonDocument.Parse(await answers[i].Content.ReadAsStringAsync()).RootElement.GetProperty("predictions"));
        }
        Assert.Contains("threads=\"2\",workers=\"2\"", await other.GetStringAsync("/metrics"), StringComparison.Ordinal);
        await workers.StopAsync();
    }

    [Fact]
    public async Task TwoWorkers_OnTheTorchEngine_StopTheStartWithTheReason()
    {
        await using var torch = Build(new ServingOptions { Model = Model, Engine = EngineKind.Torch, Workers = 2 });
        var error = await Assert.ThrowsAsync<EfficientNetException>(() => torch.StartAsync());
        Assert.Equal($"ServingOptions.Workers above 1 needs the ONNX Runtime engine; '{Model}' opened on Torch", error.Message);
    }

    /// <summary>Written from the Open Inference Protocol's REST specification, not through this project's code.</summary>
    [Fact]
    public async Task OpenInferenceProtocol_MetadataAndInfer_AsTheSpecificationWritesThem()
    {
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/models/cifar/ready")).StatusCode);
        var metadata = JsonDocument.Parse(await client.GetStringAsync("/v2/models/cifar")).RootElement;
        var input = metadata.GetProperty("inputs")[0];
        Assert.Equal(("input", "FP32"), (input.GetProperty("name").GetString(), input.GetProperty("datatype").GetString()));
        int side = input.GetProperty("shape")[2].GetInt32();

        using var classifier = Classifier.Open(Model);
        using var pixels = ImageDecoder.Load(Photos[0], classifier.Info.Preprocessing);
        var data = string.Join(",", pixels.data<float>().ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
        string request = $$"""{"id":"42","inputs":[{"name":"input","shape":[1,3,{{side}},{{side}}],"datatype":"FP32","data":[{{data}}]}],"outputs":[{"name":"logits"}]}""";
        var (status, body, _) = await Post("/v2/models/cifar/infer", new StringContent(request, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(("cifar", "42"), (body.GetProperty("model_name").GetString(), body.GetProperty("id").GetString()));
        var output = body.GetProperty("outputs")[0];
        Assert.Equal([1, 10], output.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()));
        float[] logits = [.. output.GetProperty("data").EnumerateArray().Select(v => v.GetSingle())];
        Assert.Equal(InProcess(Photos[0])[0].Index, Array.IndexOf(logits, logits.Max()));
    }

    public static TheoryData<string, string, int, string> BadRequests => new()
    {
        { "/v1/classify", "not an image", 400, "is not an image" },
        { "/v1/classify", "", 400, "the body is empty" },
        { "/v1/classify?top=0", "x", 400, "top must be" },
        { "/v2/models/other/infer", "{}", 404, "unknown model 'other'" },
        { "/v2/models/cifar/infer", "{nope", 400, "the body is not JSON" },
        { "/v2/models/cifar/infer", """{"inputs":[{"name":"input","shape":[1,3,8,8],"datatype":"FP32","data":[0]}]}""", 400, "expected one FP32 input 'input' of shape [N, 3, 48, 48]" },
        { "/v2/models/cifar/infer", """{"inputs":[{"name":"input","shape":[1,3,48,48],"datatype":"INT8","data":[0]}]}""", 400, "got INT8" },
        { "/v2/models/cifar/infer", """{"inputs":[{"name":"input","shape":[1,3,48,48],"datatype":"FP32","data":[1,2]}]}""", 400, "holds 6912" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadInput_GetsItsStatusAndOneLine_AndTheServerGoesOn(string path, string body, int expected, string message)
    {
        var (status, answer, _) = await Post(path, new StringContent(body));
        Assert.Equal(expected, (int)status);
        Assert.Contains(message, answer.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await Post("/v1/classify", new ByteArrayContent(File.ReadAllBytes(Photos[1])))).Status);
    }

    [Fact]
    public async Task TruncatedHugeAndOversizedImages_AreRefused()
    {
        byte[] photo = File.ReadAllBytes(Photos[0]);
        var (status, body, _) = await Post("/v1/classify", new ByteArrayContent(photo[..(photo.Length / 2)]));
        Assert.Equal((HttpStatusCode.BadRequest, true), (status, body.GetProperty("error").GetString()!.Contains("truncated", StringComparison.Ordinal)));

        (status, body, _) = await Post("/v1/classify", new ByteArrayContent(PngClaiming(40_000, 40_000)));
        Assert.Equal((HttpStatusCode.BadRequest, true), (status, body.GetProperty("error").GetString()!.Contains("decompression bomb", StringComparison.Ordinal)));

        (status, body, _) = await Post("/v1/classify", new ByteArrayContent(new byte[(1 << 20) + 1]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);

        // Bodies that announce no length (chunked) are cut off as they pass the limit, one image or multipart.
        var chunked = new StreamContent(new MemoryStream(new byte[(1 << 20) + 1]));
        (status, _, _) = await Post("/v1/classify", chunked);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        using var form = new MultipartFormDataContent { { new StreamContent(new MemoryStream(new byte[(1 << 20) + 1])), "image", "big.jpg" } };
        form.Headers.ContentLength = null;
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/classify") { Content = form };
        request.Headers.TransferEncodingChunked = true;
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await client.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task MoreImagesThanTheQueueHolds_Are503WithRetryAfter()
    {
        string zeros = string.Join(",", Enumerable.Repeat("0", 17 * 3 * 48 * 48));
        string request = $$"""{"inputs":[{"name":"input","shape":[17,3,48,48],"datatype":"FP32","data":[{{zeros}}]}]}""";
        var (status, body, response) = await Post("/v2/models/cifar/infer", new StringContent(request, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        Assert.Contains("the queue holds 16 images", body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    /// <summary>A whole PNG (IHDR, one row of IDAT, IEND) whose header claims <paramref name="width"/> x <paramref name="height"/> grey pixels.</summary>
    private static byte[] PngClaiming(int width, int height)
    {
        byte[] Chunk(string kind, byte[] data)
        {
            byte[] typed = [.. Encoding.ASCII.GetBytes(kind), .. data];
            return [.. BigEndian((uint)data.Length), .. typed, .. BigEndian(Crc.Reflected(typed, Crc.Iso3309))];
        }
        using var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Optimal))
        {
            zlib.Write(new byte[width + 1]);
        }
        byte[] header = [.. BigEndian((uint)width), .. BigEndian((uint)height), 8, 0, 0, 0, 0];
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, .. Chunk("IHDR", header), .. Chunk("IDAT", compressed.ToArray()), .. Chunk("IEND", [])];
    }

    private static byte[] BigEndian(uint value)
    {
        byte[] bytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    [Fact]
    public async Task Page_IsServedWithTheModelsName_AndNothingFromElsewhere()
    {
        var answer = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("text/html", answer.Content.Headers.ContentType?.MediaType);
        string page = await answer.Content.ReadAsStringAsync();
        Assert.Contains("<title>cifar · EfficientNet.NET</title>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("{{", page, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"(src|href)\s*=\s*""(https?:)?//|@import|url\(", page);
    }

    /// <summary>Debian's Chromium, headless, uploads a photo through the page and shows the classifier's top class.</summary>
    [Fact]
    public async Task Page_InHeadlessChromium_ShowsTheTopClassesOfAnUploadedPhoto()
    {
        string chromium = new[] { Environment.GetEnvironmentVariable("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("this test drives Chromium: apt-get install chromium (bash .ci/run installs it), or set CHROMIUM to its path");
        await using var browser = await PuppeteerSharp.Puppeteer.LaunchAsync(new PuppeteerSharp.LaunchOptions
        {
            ExecutablePath = chromium, Headless = true, Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
        await using var page = await browser.NewPageAsync();
        await page.GoToAsync(client.BaseAddress!.ToString());
        var input = await page.QuerySelectorAsync("#file");
        await input.UploadFileAsync(Photos[2]);
        await page.WaitForSelectorAsync("#predictions li", new PuppeteerSharp.WaitForSelectorOptions { Timeout = 60_000 });

        string[] labels = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#predictions li .label')].map(e => e.textContent)");
        string[] percents = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#predictions li .percent')].map(e => e.textContent)");
        var expected = InProcess(Photos[2]);
        Assert.Equal(5, labels.Length);
        Assert.Equal(expected.Select(p => p.Label), labels.Take(expected.Count));
        Assert.Equal((100 * expected[0].Probability).ToString("F1", CultureInfo.InvariantCulture) + "%", percents[0]);
        string shown = await page.EvaluateExpressionAsync<string>("document.getElementById('status').textContent");
        Assert.Contains("most likely classes of cifar", shown, StringComparison.Ordinal);
    }

    /// <summary>The tool: SIGTERM stops it, after the request in flight, with exit code 0; EFFNET_TURBOJPEG=off is heeded.</summary>
    [Fact]
    public async Task ServeCommand_AnswersThenStopsOnSigterm_WithExitCode0()
    {
        // With TurboJPEG turned off, as /metrics reports: the upload is decoded by SkiaSharp, and answered the same.
        var start = new ProcessStartInfo("dotnet", [EffnetProcess.Dll, "serve", Model, "--port", "0", "--threads", "1"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["EFFNET_TURBOJPEG"] = "off" },
        };
        using var process = Process.Start(start)!;
        try
        {
            var stderr = process.StandardError.ReadToEndAsync();
            string? line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(line is not null && line.StartsWith("serving cifar10-b0 on http://127.0.0.1:", StringComparison.Ordinal), $"{line}\n{(process.HasExited ? await stderr : "")}");
            using var tool = new HttpClient { BaseAddress = new Uri(line!.Split(' ')[3]), Timeout = TimeSpan.FromSeconds(30) };
            var answer = await tool.PostAsync("/v1/classify", new ByteArrayContent(File.ReadAllBytes(Photos[0])));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Contains(",jpeg=\"skiasharp\"}", await tool.GetStringAsync("/metrics"), StringComparison.Ordinal);

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }
            Assert.True(process.WaitForExit(20_000), "effnet serve did not stop within 20 s of SIGTERM");
            Assert.True(process.ExitCode == 0, await stderr);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
