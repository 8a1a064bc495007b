namespace EfficientNet.IO;

/// <summary>Where a download stands.</summary>
/// <param name="Bytes">Bytes received so far.</param>
/// <param name="Total">The announced size (Content-Length), when the server sent one.</param>
public sealed record DownloadProgress(long Bytes, long? Total);

/// <summary>
/// HTTP downloads that stream to disk (never the whole body in memory), fail when the data stops
/// coming, fail fast when there is no network, and never leave a partial file.
/// </summary>
internal static class Downloads
{
    /// <summary>How long connecting and receiving the response headers may take.</summary>
    public static readonly TimeSpan HeadersTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long a download may go without receiving a byte before it is abandoned.</summary>
    public static readonly TimeSpan DefaultStallTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The body of <paramref name="url"/> as it arrives (disposing it closes the connection).
    /// </summary>
    public static Stream Http(string url)
    {
        var client = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        try
        {
            using var headers = new CancellationTokenSource(HeadersTimeout);
            var response = client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, headers.Token).GetAwaiter().GetResult();
            response.EnsureSuccessStatusCode();
            return new ResponseStream(response.Content.ReadAsStream(), response.Content.Headers.ContentLength, response, client);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Downloads <paramref name="url"/> to <paramref name="target"/> through a .part file renamed at the
    /// end. On failure nothing is left behind and the error says what to do offline:
    /// <paramref name="offlineAdvice"/>.
    /// </summary>
    /// <param name="url">Source address.</param>
    /// <param name="target">Destination file.</param>
    /// <param name="offlineAdvice">What the user can do instead, e.g. where to put a manually fetched copy.</param>
    /// <param name="download">Opens the source (tests pass a fake; default: <see cref="Http"/>).</param>
    /// <param name="verify">Checks the downloaded file before it is moved into place; throws to reject it.</param>
    /// <param name="progress">Told the bytes received after each chunk.</param>
    /// <param name="stallTimeout">Longest wait for the next chunk (default <see cref="DefaultStallTimeout"/>).</param>
    public static void ToFile(
        string url,
        string target,
        string offlineAdvice,
        Func<string, Stream>? download = null,
        Action<string>? verify = null,
        IProgress<DownloadProgress>? progress = null,
        TimeSpan? stallTimeout = null)
    {
        string partial = target + ".part";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
        try
        {
            using (var source = (download ?? Http)(url))
            using (var file = File.Create(partial))
            {
                Copy(source, file, progress, stallTimeout ?? DefaultStallTimeout);
            }
            verify?.Invoke(partial);
            File.Move(partial, target, overwrite: true);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException or TaskCanceledException or OperationCanceledException)
        {
            throw new EfficientNetException($"cannot download {url} ({e.Message}). Offline? {offlineAdvice}", e);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    private static void Copy(Stream source, Stream file, IProgress<DownloadProgress>? progress, TimeSpan stallTimeout)
    {
        long? total = source is ResponseStream response ? response.AnnouncedLength : source.CanSeek ? source.Length : null;
        var buffer = new byte[1 << 16];
        long received = 0;
        while (true)
        {
            int read;
            using (var stall = new CancellationTokenSource(stallTimeout))
            {
                try
                {
                    read = source.ReadAsync(buffer, stall.Token).AsTask().GetAwaiter().GetResult();
                }
                catch (OperationCanceledException) when (stall.IsCancellationRequested)
                {
                    throw new TimeoutException($"no data for {stallTimeout.TotalSeconds:0.#} s after {received:N0} bytes");
                }
            }
            if (read == 0)
            {
                break;
            }
            file.Write(buffer, 0, read);
            received += read;
            progress?.Report(new DownloadProgress(received, total));
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
