using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace EfficientNet.Serving;

/// <summary>
/// The Open Inference Protocol's (KServe v2) model metadata and inference over REST with JSON tensors: one FP32 input
/// named <c>input</c> of shape [N, 3, H, W], normalised as the model expects (the metadata gives H and W), and one FP32
/// output <c>logits</c> of shape [N, classes].
/// </summary>
internal static class InferenceProtocol
{
    private const string Input = "input", Output = "logits", Fp32 = "FP32";
    private static readonly string[] Versions = ["1"];

    public static IResult Metadata(ModelServer server, string name)
    {
        int side = server.Info.Resolution;
        return Results.Json(new
        {
            name,
            versions = Versions,
            platform = "efficientnet.net",
            inputs = new[] { new { name = Input, datatype = Fp32, shape = new long[] { -1, 3, side, side } } },
            outputs = new[] { new { name = Output, datatype = Fp32, shape = new long[] { -1, server.Classes } } },
        });
    }

    public static async Task<IResult> Infer(HttpContext context, ModelServer server, string name)
    {
        using var arrival = server.Batcher.Arrive();
        byte[] body = await EfficientNetServing.ReadBody(context, server.Options.MaxBodyBytes);
        JsonDocument request;
        try
        {
            request = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new ServingException(400, $"the body is not JSON: {e.Message}");
        }
        using (request)
        {
            var (images, id) = Read(request.RootElement, server.Info.Resolution, server.Batcher.RentImage);
            var logits = await EfficientNetServing.Logits(context, server, images, arrival);
            return Results.Json(new
            {
                model_name = name,
                model_version = "1",
                id,
                outputs = new[] { new { name = Output, datatype = Fp32, shape = new long[] { logits.Length, server.Classes }, data = logits.SelectMany(row => row) } },
            });
        }
    }

    // The images of an inference request (its one input, checked against the model) and the request's id.
    private static (float[][] Images, string? Id) Read(JsonElement root, int side, Func<float[]> rent)
    {
        string expected = $"one {Fp32} input '{Input}' of shape [N, 3, {side}, {side}]";
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.Array || inputs.GetArrayLength() != 1)
        {
            throw new ServingException(400, $"the request must have \"inputs\" with {expected}");
        }
        CheckOutputs(root);
        var input = inputs[0];
        string? datatype = input.TryGetProperty("datatype", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
        long[] shape = input.TryGetProperty("shape", out var s) && s.ValueKind == JsonValueKind.Array && s.EnumerateArray().All(v => v.ValueKind == JsonValueKind.Number)
            ? [.. s.EnumerateArray().Select(v => v.GetInt64())]
            : [];
        if (datatype != Fp32 || shape.Length != 4 || shape[0] < 1 || shape[1] != 3 || shape[2] != side || shape[3] != side)
        {
            throw new ServingException(400, $"expected {expected}, got {datatype ?? "no datatype"} of shape [{string.Join(", ", shape)}]");
        }
        if (!input.TryGetProperty("data", out var data))
        {
            throw new ServingException(400, "the input has no \"data\"");
        }
        var values = new List<float>();
        Flatten(data, values);
        int planes = 3 * side * side;
        if (values.Count != shape[0] * planes)
        {
            throw new ServingException(400, $"the input's data has {values.Count} values; shape [{string.Join(", ", shape)}] holds {shape[0] * planes}");
        }
        var images = new float[shape[0]][];
        for (int i = 0; i < images.Length; i++)
        {
            images[i] = rent();
            values.CopyTo(i * planes, images[i], 0, planes);
        }
        string? id = root.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
        return (images, id);
    }

    // Requested outputs, when named, can only be the one this model has.
    private static void CheckOutputs(JsonElement root)
    {
        if (root.TryGetProperty("outputs", out var outputs) && outputs.ValueKind == JsonValueKind.Array)
        {
            foreach (var output in outputs.EnumerateArray())
            {
                if (!output.TryGetProperty("name", out var name) || name.GetString() != Output)
                {
                    throw new ServingException(400, $"the model has one output, '{Output}'");
                }
            }
        }
    }

    // The protocol's tensor data: a flat row-major array, or nested arrays of the shape.
    private static void Flatten(JsonElement element, List<float> values)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Flatten(item, values);
                }
                break;
            case JsonValueKind.Number when element.TryGetSingle(out float value) && float.IsFinite(value):
                values.Add(value);
                break;
            default:
                throw new ServingException(400, $"the input's data must be finite FP32 numbers, got {element.ValueKind.ToString().ToLowerInvariant()} {element.GetRawText()[..Math.Min(20, element.GetRawText().Length)]}");
        }
    }
}
