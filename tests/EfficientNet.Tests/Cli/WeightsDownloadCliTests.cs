using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EfficientNet.Cli;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Cli;

/// <summary><c>effnet weights download --from</c>: a mirror on 127.0.0.1 or a local copy, checked against the published hash.</summary>
public class WeightsDownloadCliTests
{
    /// <summary>
    /// Not weights: a line whose SHA-256 starts with B0's published prefix 3dd342df (found by trying nonces,
    /// about 2^32 hashes), so the registry's check accepts it like the real file.
    /// </summary>
    private static readonly byte[] MatchesB0Prefix = Encoding.ASCII.GetBytes("EfficientNet.NET test fixture, not weights: 000000012f9fbb97\n");

    private static readonly string B0File = PretrainedRegistry.Get("b0").FileName;

    [Fact]
    public void Fixture_HasB0sPublishedHashPrefix()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("x"), MatchesB0Prefix);

        Assert.StartsWith("3dd342df", PretrainedRegistry.Sha256(dir.File("x")), StringComparison.Ordinal);
    }

    [Fact]
    public void Download_FromAMirrorWithTheRightFile_PutsItInTheCache()
    {
        using var dir = new TempDir();
        using var mirror = new LocalHttpServer(MatchesB0Prefix);

        var (exit, output, _) = CliRunner.Run("weights", "download", "b0", "--from", mirror.Url, "--cache", dir.Path);

        Assert.Equal(0, exit);
        string cached = Path.Combine(dir.Path, "weights", B0File);
        Assert.Contains(cached, output, StringComparison.Ordinal);
        Assert.Equal(MatchesB0Prefix, File.ReadAllBytes(cached));
        Assert.Equal(1, mirror.Requests);
    }

    [Fact]
    public void Download_FromAMirrorWithAnotherFile_IsRefusedAndLeavesNothing()
    {
        using var dir = new TempDir();
        using var mirror = new LocalHttpServer(Encoding.ASCII.GetBytes("some other file\n"));

        var (exit, _, error) = CliRunner.Run("weights", "download", "b0", "--from", mirror.Url, "--cache", dir.Path);

        Assert.Equal(1, exit);
        Assert.Contains("does not start with the published 3dd342df", error.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1], StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Download_FromALocalFile_CopiesItAfterTheCheck()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("copy.pth"), MatchesB0Prefix);
        string cache = dir.File("cache");

        var (exit, _, _) = CliRunner.Run("weights", "download", "b0", "--from", dir.File("copy.pth"), "--cache", cache);

        Assert.Equal(0, exit);
        Assert.Equal(MatchesB0Prefix, File.ReadAllBytes(Path.Combine(cache, "weights", B0File)));
    }

    [Fact]
    public void Download_FromAMissingFile_SaysWhatItExpected()
    {
        using var dir = new TempDir();

        string error = CliRunner.Fails("weights", "download", "b0", "--from", dir.File("missing.pth"), "--cache", dir.Path);

        Assert.Contains("neither an http(s) URL nor an existing file", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Download_StoppedBySigterm_ExitsInterruptedAndKeepsNothing()
    {
        using var dir = new TempDir();
        using var mirror = new LocalHttpServer(new byte[1 << 20], stallAfter: 100_000);
        var start = new ProcessStartInfo("dotnet", [EffnetProcess.Dll, "weights", "download", "b0", "--from", mirror.Url, "--cache", dir.Path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        string partial = Path.Combine(dir.Path, "weights", B0File + ".part");
        var waited = Stopwatch.StartNew();
        while (!(File.Exists(partial) && new FileInfo(partial).Length > 0) && waited.Elapsed < TimeSpan.FromSeconds(60))
        {
            Thread.Sleep(50);
        }
        Assert.True(File.Exists(partial), "the download never started");

        TestProcess.Run("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);

        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "the download did not stop");
        string errors = await stderr;
        Assert.True(process.ExitCode == EffnetCli.Interrupted, $"exit {process.ExitCode}: {errors}{await stdout}");
        Assert.Contains($"effnet: interrupted: stopped downloading {mirror.Url}; nothing was kept", errors, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories));
    }

    /// <summary>Serves one body at http://127.0.0.1:PORT/file on a background thread, counting requests; can stop sending part-way until disposed.</summary>
    private sealed class LocalHttpServer : IDisposable
    {
        private readonly HttpListener listener = new();
        private readonly Thread thread;
        private readonly ManualResetEventSlim released = new();
        private readonly int? stallAfter;
        private int requests;

        public LocalHttpServer(byte[] body, int? stallAfter = null)
        {
            this.stallAfter = stallAfter;
            int port = FreePort();
            Url = $"http://127.0.0.1:{port}/{B0File}";
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            listener.Start();
            thread = new Thread(() => Serve(body)) { IsBackground = true };
            thread.Start();
        }

        public string Url { get; }

        public int Requests => Volatile.Read(ref requests);

        public void Dispose()
        {
            released.Set();
            listener.Close();
            thread.Join(TimeSpan.FromSeconds(5));
            released.Dispose();
        }

        private void Serve(byte[] body)
        {
            try
            {
                while (true)
                {
                    var context = listener.GetContext();
                    Interlocked.Increment(ref requests);
                    context.Response.ContentLength64 = body.Length;
                    if (stallAfter is int sent)
                    {
                        context.Response.OutputStream.Write(body.AsSpan(0, sent));
                        context.Response.OutputStream.Flush();
                        released.Wait();
                        context.Response.Abort();
                        continue;
                    }
                    context.Response.OutputStream.Write(body);
                    context.Response.Close();
                }
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                // Closed by Dispose.
            }
        }

        private static int FreePort()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            return port;
        }
    }
}
