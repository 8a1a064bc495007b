using System.Collections;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using EfficientNet.Data;
using EfficientNet.Training.Options;

namespace EfficientNet.Training.Distributed;

/// <summary>
/// Checks, before any work, that the processes of a data-parallel job were started alike: every option (by its
/// property, nested option records included; <see cref="PerProcessAttribute"/> ones only for being set) and the data
/// (image counts, class names, a fingerprint of every image's label in order). Otherwise each process would train on
/// other data or crash inside MPI when their messages stop matching. A disagreement stops every process together
/// (<see cref="JobWideException"/>), naming the first option or fact that differs, the ranks and both values.
/// </summary>
internal static class RankAgreement
{
    private const int SharedBytes = 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Throws on every process when <paramref name="options"/> or the data differ from rank 0's.</summary>
    /// <exception cref="JobWideException">They differ.</exception>
    public static void Check(Communicator world, object options, ImageDataset? train = null, ImageDataset? validation = null)
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentNullException.ThrowIfNull(options);
        if (!world.IsDistributed)
        {
            return;
        }
        var mine = Describe(options);
        if (train is not null && validation is not null)
        {
            mine.AddRange(Describe(train, validation));
        }
        Agree(mine, world);
    }

    /// <summary>Every option of <paramref name="options"/> as (Type.Property, value as JSON) in declaration order.</summary>
    internal static List<(string Name, string Value)> Describe(object options)
    {
        var lines = new List<(string, string)>();
        Add(options, lines);
        return lines;
    }

    /// <summary>What the processes must agree on about the data.</summary>
    internal static IEnumerable<(string Name, string Value)> Describe(ImageDataset train, ImageDataset validation)
    {
        yield return ("the number of training images", train.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        yield return ("the number of validation images", validation.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        yield return ("the class names", JsonSerializer.Serialize(train.Classes, Json));
        var labels = train.Labels.Concat(validation.Labels).SelectMany(BitConverter.GetBytes).ToArray();
        yield return ("the images' labels (a SHA-256 of every label in order)", Convert.ToHexString(SHA256.HashData(labels))[..16].ToLowerInvariant());
    }

    private static void Add(object record, List<(string, string)> lines)
    {
        var type = record.GetType();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0))
        {
            object? value = property.GetValue(record);
            string name = $"{type.Name}.{property.Name}";
            if (property.IsDefined(typeof(PerProcessAttribute)))
            {
                lines.Add((name, value is null ? "not set" : "set"));
            }
            else if (value is not null && IsOptionRecord(property.PropertyType))
            {
                Add(value, lines);
            }
            else
            {
                lines.Add((name, value is null ? "not set" : JsonSerializer.Serialize(value, property.PropertyType, Json)));
            }
        }
    }

    private static bool IsOptionRecord(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type) && type.Namespace?.StartsWith("EfficientNet", StringComparison.Ordinal) == true;

    private static void Agree(List<(string Name, string Value)> mine, Communicator world)
    {
        string Text(IEnumerable<(string Name, string Value)> lines) => string.Join('\n', lines.Select(l => $"{l.Name}\t{l.Value}"));
        var root = world.Broadcast(world.IsRoot ? Text(mine) : null).Split('\n').Select(Parse).ToList();
        int first = Enumerable.Range(0, Math.Max(root.Count, mine.Count)).FirstOrDefault(i => i >= root.Count || i >= mine.Count || root[i] != mine[i], -1);
        var differing = new double[world.Size];
        differing[world.Rank] = first + 1;
        world.AllReduceSum(differing);
        int rank = Array.FindIndex(differing, d => d > 0);
        if (rank < 0)
        {
            return;
        }
        int line = (int)differing[rank] - 1;
        var theirs = Share(world.Rank == rank && line < mine.Count ? Text([mine[line]]) : "", world) is { Length: > 0 } shared ? Parse(shared) : default((string Name, string Value)?);
        (string Name, string Value)? rootLine = line < root.Count ? root[line] : null;
        string name = rootLine?.Name ?? theirs?.Name ?? "";
        int count = differing.Count(d => d > 0);
        throw new JobWideException(world.Rank,
            $"the processes were not started alike: {name} is {rootLine?.Value ?? "missing"} on rank 0 and {theirs?.Value ?? "missing"} on rank {rank}" +
            (count > 1 ? $" ({count} ranks differ from rank 0)" : "") + "; start every process with the same options and data");
    }

    private static (string Name, string Value) Parse(string line) => line.IndexOf('\t', StringComparison.Ordinal) is var tab and >= 0 ? (line[..tab], line[(tab + 1)..]) : (line, "");

    /// <summary>One process's <paramref name="text"/> (the others pass ""), cut to <see cref="SharedBytes"/> bytes, on every process.</summary>
    private static string Share(string text, Communicator world)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var sums = new double[1 + SharedBytes];
        int length = Math.Min(bytes.Length, SharedBytes);
        sums[0] = length;
        for (int i = 0; i < length; i++)
        {
            sums[1 + i] = bytes[i];
        }
        world.AllReduceSum(sums);
        return Encoding.UTF8.GetString([.. sums.Skip(1).Take((int)sums[0]).Select(b => (byte)b)]);
    }
}

/// <summary>
/// An error every process of a data-parallel job raises at the same point, so none is left waiting: it ends the job
/// without MPI_Abort, and rank 0 alone reports it.
/// </summary>
internal sealed class JobWideException(int rank, string message) : EfficientNetException(message)
{
    /// <summary>The rank of the process that raised it.</summary>
    public int Rank { get; } = rank;
}
