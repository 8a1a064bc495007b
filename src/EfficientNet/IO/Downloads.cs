namespace EfficientNet.IO;

/// <summary>HTTP downloads that fail fast when there is no network and never leave a partial file.</summary>
public static class Downloads
{
    /// <summary>The body of <paramref name="url"/>, fully read (a 30 s limit instead of the default 100 s).</summary>
    public static Stream Http(string url)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var response = client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
        response.EnsureSuccessStatusCode();
        var memory = new MemoryStream();
        response.Content.ReadAsStream().CopyTo(memory);
        memory.Position = 0;
        return memory;
    }

    /// <summary>
    /// Downloads <paramref name="url"/> to <paramref name="target"/> (through a .part file renamed at
    /// the end). On failure nothing is left behind and the error says what to do offline:
    /// <paramref name="offlineAdvice"/>.
    /// </summary>
    /// <param name="url">Source address.</param>
    /// <param name="target">Destination file.</param>
    /// <param name="offlineAdvice">What the user can do instead, e.g. where to put a manually fetched copy.</param>
    /// <param name="download">Opens the source (tests pass a fake; default: <see cref="Http"/>).</param>
    /// <param name="verify">Checks the downloaded file before it is moved into place; throws to reject it.</param>
    public static void ToFile(string url, string target, string offlineAdvice, Func<string, Stream>? download = null, Action<string>? verify = null)
    {
        string partial = target + ".part";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
        try
        {
            using (var source = (download ?? Http)(url))
            using (var file = File.Create(partial))
            {
                source.CopyTo(file);
            }
            verify?.Invoke(partial);
            File.Move(partial, target, overwrite: true);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or OperationCanceledException)
        {
            throw new EfficientNetException($"cannot download {url} ({e.Message}). Offline? {offlineAdvice}", e);
        }
        finally
        {
            File.Delete(partial);
        }
    }
}
