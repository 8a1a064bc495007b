using System.Net;
using System.Net.Sockets;
using EfficientNet.IO;
using EfficientNet.Weights;

namespace EfficientNet.Tests.IO;

/// <summary>Downloads stream to disk with progress, give up when the data stops or crawls, follow only http(s) redirects, and leave nothing behind on failure or cancellation.</summary>
public class DownloadsTests
{
    /// <summary>A read-only, unseekable source like a response body; subclasses say how its bytes arrive.</summary>
    private abstract class SourceStream : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Sends some bytes, then nothing, without closing (a stalled connection).</summary>
    private sealed class StallingStream(int bytes) : SourceStream
    {
        private int left = bytes;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (left > 0)
            {
                int n = Math.Min(left, buffer.Length);
                left -= n;
                return n;
            }
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }
    }

    [Fact]
    public async Task ToFile_DataStopsComing_FailsAfterTheStallTimeoutAndLeavesNothing()
    {
        using var dir = new TempDir();
        string target = dir.File("weights.pth");
        var run = Task.Run(() => Assert.Throws<EfficientNetException>(() =>
            Downloads.ToFile("http://example.invalid/w.pth", target, "put it there", _ => new StallingStream(1000), limits: DownloadLimits.Default with { StallTimeout = TimeSpan.FromMilliseconds(300) })));
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20)));
        Assert.True(finished == run, "the download hung on a stalled connection");
        Assert.Contains("no data for 0.3 s after 1,000 bytes", (await run).Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    /// <summary>Sends one byte every <paramref name="interval"/>, for ever: never stalled, never done.</summary>
    private sealed class DrippingStream(TimeSpan interval) : SourceStream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(interval, cancellationToken);
            buffer.Span[0] = 1;
            return 1;
        }
    }

    [Fact]
    public void ToFile_DataDrips_FailsBelowTheMinimumRateAndLeavesNothing()
    {
        using var dir = new TempDir();
        var limits = new DownloadLimits(StallTimeout: TimeSpan.FromSeconds(5), RateWindow: TimeSpan.FromMilliseconds(500), MinimumBytesPerWindow: 1000);
        var e = Assert.Throws<EfficientNetException>(() =>
            Downloads.ToFile("http://example.invalid/w.pth", dir.File("w.pth"), "put it there", _ => new DrippingStream(TimeSpan.FromMilliseconds(20)), limits: limits));
        Assert.Matches(@"cannot download http://example\.invalid/w\.pth \(\d+ bytes in the last 0\.\d s, under the 1,000 a download must bring per 0\.5 s\)", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void ToFile_Cancelled_StopsAndLeavesNothing()
    {
        using var dir = new TempDir();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var e = Assert.Throws<OperationCanceledException>(() =>
            Downloads.ToFile("http://example.invalid/w.pth", dir.File("w.pth"), "put it there", _ => new StallingStream(1000), cancellation: cancel.Token));
        Assert.Equal("stopped downloading http://example.invalid/w.pth; nothing was kept", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Http_RedirectToAFile_IsNotFollowed()
    {
        using var server = new OneFileServer([], announce: false, redirectTo: "file:///etc/passwd");
        using var dir = new TempDir();
        var e = Assert.Throws<EfficientNetException>(() => Downloads.ToFile(server.Url, dir.File("w.pth"), "put it there"));
        Assert.Contains($"{server.Url} redirects to 'file:///etc/passwd', which is not http(s); not followed", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Http_LocalServer_StreamsToTheFileWithProgress()
    {
        byte[] body = new byte[3 << 20];
        new Random(7).NextBytes(body);
        using var server = new OneFileServer(body, announce: true);
        using var dir = new TempDir();
        string target = dir.File("weights.pth");
        var reports = new List<(long Bytes, long? Total)>();
        Downloads.ToFile(server.Url, target, "put it there", progress: new Recorder(reports));
        Assert.Equal(body, File.ReadAllBytes(target));
        Assert.True(reports.Count > 1, "progress was reported once");
        Assert.Equal((body.Length, body.Length), reports[^1]);
        Assert.Equal([target], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Http_ServerClosesEarly_FailsAndLeavesNothing()
    {
        using var server = new OneFileServer(new byte[100_000], announce: true, send: 40_000);
        using var dir = new TempDir();
        var e = Assert.Throws<EfficientNetException>(() => Downloads.ToFile(server.Url, dir.File("w.pth"), "put it there"));
        Assert.Contains("cannot download", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    /// <summary>Collects reports synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
    private sealed class Recorder(List<(long Bytes, long? Total)> reports) : IProgress<(long Bytes, long? Total)>
    {
        public void Report((long Bytes, long? Total) value) => reports.Add(value);
    }

    /// <summary>Serves one body on 127.0.0.1 to one request; can announce its length and then send less, or redirect.</summary>
    private sealed class OneFileServer : IDisposable
    {
        private readonly HttpListener listener = new();
        private readonly Task serving;

        public OneFileServer(byte[] body, bool announce, int? send = null, string? redirectTo = null)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = $"http://127.0.0.1:{port}/weights.pth";
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            listener.Start();
            serving = Task.Run(async () =>
            {
                var context = await listener.GetContextAsync();
                if (redirectTo is not null)
                {
                    context.Response.StatusCode = 302;
                    context.Response.RedirectLocation = redirectTo;
                    context.Response.Close();
                    return;
                }
                if (announce)
                {
                    context.Response.ContentLength64 = body.Length;
                }
                int count = send ?? body.Length;
                for (int offset = 0; offset < count; offset += 64 << 10)
                {
                    await context.Response.OutputStream.WriteAsync(body.AsMemory(offset, Math.Min(64 << 10, count - offset)));
                    await context.Response.OutputStream.FlushAsync();
                }
                if (send is null)
                {
                    context.Response.Close();
                }
                else
                {
                    context.Response.Abort();
                }
            });
        }

        public string Url { get; }

        public void Dispose()
        {
            listener.Stop();
            listener.Close();
            try
            {
                serving.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
                // The listener was stopped under a request that never came.
            }
        }
    }
}
