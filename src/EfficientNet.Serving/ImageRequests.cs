using System.Globalization;
using EfficientNet.Imaging;
using Microsoft.AspNetCore.Http;
using static TorchSharp.torch;

namespace EfficientNet.Serving;

/// <summary><c>POST /v1/classify</c>: images in, the top classes of each out.</summary>
internal static class ImageRequests
{
    /// <summary>
    /// One image as the body (JPEG, PNG, WebP, BMP or GIF, told by its bytes), or several as multipart form files;
    /// <c>?top=k</c> classes each (default 5).
    /// </summary>
    public static async Task<IResult> Classify(HttpContext context, ModelServer server)
    {
        using var arrival = server.Batcher.Arrive();
        int top = Top(context.Request.Query["top"], server.Classes);
        var images = await Images(context, server);
        var pixels = Decode(images, server);
        var logits = await EfficientNetServing.Logits(context, server, pixels, arrival);
        var predictions = logits.Select(row => Predictions(row, top, server.Info.ClassNames)).ToArray();
        return IsMultipart(context)
            ? Results.Json(new { model = server.Options.ServedName, images = images.Select((image, i) => new { name = image.Name, predictions = predictions[i] }) })
            : Results.Json(new { model = server.Options.ServedName, predictions = predictions[0] });
    }

    // The images as the model takes them (decoded, resized, centre-cropped, normalised), in the batcher's buffers.
    private static List<float[]> Decode(IReadOnlyList<(string Name, byte[] Bytes)> images, ModelServer server)
    {
        var pixels = new List<float[]>(images.Count);
        try
        {
            foreach (var (name, bytes) in images)
            {
                pixels.Add(server.Batcher.RentImage());
                ImageDecoder.LoadInto(bytes, name, server.Info.Preprocessing, pixels[^1]);
            }
            return pixels;
        }
        catch
        {
            server.Batcher.Release(pixels);
            throw;
        }
    }

    // Multipart form files are images; any other body (whatever its declared type: curl's --data-binary says form-urlencoded) is one image.
    private static bool IsMultipart(HttpContext context) =>
        context.Request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) == true;

    private static int Top(string? text, int classes)
    {
        if (text is null)
        {
            return Math.Min(5, classes);
        }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int top) && top >= 1
            ? Math.Min(top, classes)
            : throw new ServingException(400, $"top must be a whole number of 1 or more, got '{text}'");
    }

    private static async Task<IReadOnlyList<(string Name, byte[] Bytes)>> Images(HttpContext context, ModelServer server)
    {
        long limit = server.Options.MaxBodyBytes;
        if (!IsMultipart(context))
        {
            byte[] body = await EfficientNetServing.ReadBody(context, limit);
            return body.Length > 0 ? [("the request body", body)] : throw new ServingException(400, "the body is empty: send one image, or several as multipart/form-data");
        }
        EfficientNetServing.LimitBody(context, limit);
        var form = await context.Request.ReadFormAsync(new Microsoft.AspNetCore.Http.Features.FormOptions { MultipartBodyLengthLimit = limit }, context.RequestAborted);
        if (form.Files.Count == 0)
        {
            throw new ServingException(400, "the multipart body has no files: send each image as a form file");
        }
        var images = new List<(string, byte[])>();
        foreach (var file in form.Files)
        {
            using var data = new MemoryStream();
            await file.CopyToAsync(data, context.RequestAborted);
            images.Add((file.FileName is { Length: > 0 } name ? name : file.Name, data.ToArray()));
        }
        return images;
    }

    // The softmax of one image's logits, its `top` classes best first: what Classifier.Predict answers for the image.
    private static object[] Predictions(float[] logits, int top, IReadOnlyList<string>? labels)
    {
        using var scope = NewDisposeScope();
        var (values, indices) = nn.functional.softmax(tensor(logits).unsqueeze(0), 1).topk(top);
        float[] p = values.data<float>().ToArray();
        long[] index = indices.data<long>().ToArray();
        return [.. Enumerable.Range(0, top).Select(i => new { label = labels?[(int)index[i]], index = (int)index[i], probability = p[i] })];
    }
}
