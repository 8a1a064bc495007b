using EfficientNet.Weights;

namespace EfficientNet.IO;

/// <summary>When a download is abandoned.</summary>
/// <param name="StallTimeout">Longest wait for the next chunk.</param>
/// <param name="RateWindow">The slowest a download may go is measured over windows of this length.</param>
/// <param name="MinimumBytesPerWindow">Bytes each full window must bring (a server dripping a byte at a time is abandoned).</param>
internal sealed record DownloadLimits(TimeSpan StallTimeout, TimeSpan RateWindow, long MinimumBytesPerWindow)
{
    /// <summary>60 s without a byte, or under 64 KiB in a minute (about 1 KiB/s).</summary>
    public static DownloadLimits Default { get; } = new(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(60), 64 << 10);
}

/// <summary>
/// HTTP downloads that stream to disk (never the whole body in memory), fail when the data stops or crawls,
/// fail fast when there is no network, follow redirects only to http(s), and never leave a partial file.
/// </summary>
internal static class Downloads
{
    /// <summary>Where downloads (CIFAR-10, pretrained weights) are kept unless a folder is given: ~/.cache/efficientnet-net.</summary>
    public static string DefaultCacheDirectory { get; } =
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "efficientnet-net");

    /// <summary>How long connecting and receiving the response headers may take.</summary>
    public static readonly TimeSpan HeadersTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How many redirects are followed.</summary>
    public const int MaxRedirects = 5;

    /// <summary>
    /// The body of <paramref name="url"/> as it arrives (disposing it closes the connection).
    /// </summary>
    public static Stream Http(string url)
    {
        var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };
        try
        {
            var response = Follow(client, new Uri(url));
            return new ResponseStream(response.Content.ReadAsStream(), response.Content.Headers.ContentLength, response, client);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    // The response at the end of at most MaxRedirects redirects, each to http or https.
    private static HttpResponseMessage Follow(HttpClient client, Uri url)
    {
        for (int hop = 0; ; hop++)
        {
            using var headers = new CancellationTokenSource(HeadersTimeout);
            var response = client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, headers.Token).GetAwaiter().GetResult();
            if ((int)response.StatusCode is < 300 or >= 400 || response.Headers.Location is not { } location)
            {
                response.EnsureSuccessStatusCode();
                return response;
            }
            response.Dispose();
            var next = location.IsAbsoluteUri ? location : new Uri(url, location);
            if (next.Scheme != Uri.UriSchemeHttp && next.Scheme != Uri.UriSchemeHttps)
            {
                throw new HttpRequestException($"{url} redirects to '{location}', which is not http(s); not followed");
            }
            if (hop == MaxRedirects)
            {
                throw new HttpRequestException($"more than {MaxRedirects} redirects");
            }
            url = next;
        }
    }

    /// <summary>
    /// Downloads <paramref name="url"/> to <paramref name="target"/> through a .part file renamed at the
    /// end. On failure or cancellation nothing is left behind; a failure says what to do offline:
    /// <paramref name="offlineAdvice"/>.
    /// </summary>
    /// <param name="url">Source address.</param>
    /// <param name="target">Destination file.</param>
    /// <param name="offlineAdvice">What the user can do instead, e.g. where to put a manually fetched copy.</param>
    /// <param name="download">Opens the source (tests pass a fake; default: <see cref="Http"/>).</param>
    /// <param name="verify">Checks the downloaded file before it is moved into place; throws to reject it.</param>
    /// <param name="progress">Told the bytes received after each chunk.</param>
    /// <param name="limits">When to give up (default <see cref="DownloadLimits.Default"/>).</param>
    /// <param name="cancellation">Stops the download (an <see cref="OperationCanceledException"/>), removing the partial file.</param>
    public static void ToFile(
        string url,
        string target,
        string offlineAdvice,
        Func<string, Stream>? download = null,
        Action<string>? verify = null,
        IProgress<(long Bytes, long? Total)>? progress = null,
        DownloadLimits? limits = null,
        CancellationToken cancellation = default)
    {
        string partial = target + ".part";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
        try
        {
            using (var source = (download ?? Http)(url))
            using (var file = File.Create(partial))
            {
                Copy(source, file, progress, limits ?? DownloadLimits.Default, cancellation);
            }
            verify?.Invoke(partial);
            File.Move(partial, target, overwrite: true);
        }
        catch (Exception e) when (!cancellation.IsCancellationRequested
            && e is HttpRequestException or IOException or TimeoutException or TaskCanceledException or OperationCanceledException or UriFormatException)
        {
            throw new EfficientNetException($"cannot download {url} ({e.Message}). Offline? {offlineAdvice}", e);
        }
        catch (OperationCanceledException e) when (cancellation.IsCancellationRequested)
        {
            throw new OperationCanceledException($"stopped downloading {url}; nothing was kept", e, cancellation);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    private static void Copy(Stream source, Stream file, IProgress<(long Bytes, long? Total)>? progress, DownloadLimits limits, CancellationToken cancellation)
    {
        long? total = source is ResponseStream response ? response.AnnouncedLength : source.CanSeek ? source.Length : null;
        var buffer = new byte[1 << 16];
        long received = 0, windowStartBytes = 0;
        var window = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            int read;
            using (var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            {
                stall.CancelAfter(limits.StallTimeout);
                try
                {
                    read = source.ReadAsync(buffer, stall.Token).AsTask().GetAwaiter().GetResult();
                }
                catch (OperationCanceledException) when (stall.IsCancellationRequested && !cancellation.IsCancellationRequested)
                {
                    throw new TimeoutException($"no data for {limits.StallTimeout.TotalSeconds:0.#} s after {received:N0} bytes");
                }
            }
            if (read == 0)
            {
                break;
            }
            file.Write(buffer, 0, read);
            received += read;
            progress?.Report((received, total));
            if (window.Elapsed >= limits.RateWindow)
            {
                if (received - windowStartBytes < limits.MinimumBytesPerWindow)
                {
                    throw new TimeoutException(
                        $"{received - windowStartBytes:N0} bytes in the last {window.Elapsed.TotalSeconds:0.#} s, under the {limits.MinimumBytesPerWindow:N0} a download must bring per {limits.RateWindow.TotalSeconds:0.#} s");
                }
                windowStartBytes = received;
                window.Restart();
            }
        }
        if (total is long expected && received != expected)
        {
            throw new IOException($"the connection closed after {received:N0} of {expected:N0} bytes");
        }
    }

    /// <summary>A response body that owns its response and client, with the announced length.</summary>
    private sealed class ResponseStream(Stream body, long? length, HttpResponseMessage response, HttpClient client) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        /// <summary>The Content-Length the server sent, if any.</summary>
        public long? AnnouncedLength => length;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => body.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            body.ReadAsync(buffer, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                body.Dispose();
                response.Dispose();
                client.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
