namespace EfficientNet.Weights;

/// <summary>Where a download stands.</summary>
/// <param name="Bytes">Bytes received so far.</param>
/// <param name="Total">The announced size (Content-Length), when the server sent one.</param>
public sealed record DownloadProgress(long Bytes, long? Total);
