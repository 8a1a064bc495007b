using System.Reflection;
using System.Text.RegularExpressions;
using EfficientNet.Cli;
using EfficientNet.Models;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;

namespace EfficientNet.Tests.Cli;

/// <summary>
/// The libraries name options by their properties and the tool shows its flags: every name in the tool's map is a
/// member of a library type and every flag an option of some verb, and no library string literal holds a flag.
/// </summary>
public partial class OptionFlagsTests
{
    private static readonly Assembly[] Libraries = [typeof(EfficientNetModel).Assembly, typeof(Trainer).Assembly, typeof(EfficientNet.Serving.ServingOptions).Assembly];

    [Fact]
    public void Rewrite_ReplacesMappedNamesOnly()
    {
        Assert.Equal("--epochs must be positive, got 0; --engine onnxruntime", OptionFlags.Rewrite("TrainOptions.Epochs must be positive, got 0; EngineKind.OnnxRuntime"));
        Assert.Equal("see Foo.Bar and docs/install.md", OptionFlags.Rewrite("see Foo.Bar and docs/install.md"));
    }

    [Fact]
    public void ServeWithNoWorkers_NamesTheFlag()
    {
        Assert.Contains("and --workers must be positive", CliRunner.Fails("serve", "model.onnx", "--workers", "0"), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryMappedName_IsAMemberOfALibraryType()
    {
        var types = Libraries.SelectMany(a => a.GetTypes()).ToLookup(t => t.Name);
        var stale = OptionFlags.Flags.Keys.Where(name =>
        {
            var (type, member) = (name[..name.IndexOf('.', StringComparison.Ordinal)], name[(name.IndexOf('.', StringComparison.Ordinal) + 1)..]);
            return !types[type].Any(t => t.GetMember(member, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static).Length > 0);
        }).ToList();

        Assert.True(stale.Count == 0, "mapped names that no library type has: " + string.Join(", ", stale));
    }

    [Fact]
    public void EveryFlag_IsAnOptionOfSomeVerb()
    {
        string helps = string.Concat(HelpTextTests.Verbs.Cast<object[]>().Select(row => CliRunner.Run([.. row.Cast<string>(), "--help"]).Out));
        var missing = OptionFlags.Flags.Values
            .SelectMany(flag => Regex.Matches(flag, "--[a-z][a-z0-9-]*").Select(m => m.Value))
            .Where(flag => !Regex.IsMatch(helps, $@"^  (?:-[\w?], )*{Regex.Escape(flag)}\b", RegexOptions.Multiline))
            .Distinct()
            .ToList();

        Assert.True(missing.Count == 0, "flags no verb has: " + string.Join(", ", missing));
    }

    [GeneratedRegex(@"""[^""\n]*(?<![\w-])--[a-z][a-z0-9-]*")]
    private static partial Regex FlagInStringLiteral();

    [Fact]
    public void LibraryStrings_NameNoFlags()
    {
        var found = new List<string>();
        foreach (string project in new[] { "EfficientNet", "EfficientNet.Training", "EfficientNet.Serving" })
        {
            string root = Path.Combine(TestPaths.RepoRoot, "src", project);
            foreach (string file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
            {
                foreach (var (line, number) in File.ReadLines(file).Select((l, i) => (l, i + 1)))
                {
                    // srun's own option, naming a launcher, is not one of ours.
                    if (!line.TrimStart().StartsWith("//", StringComparison.Ordinal) && FlagInStringLiteral().IsMatch(line.Replace("srun --mpi=pmi2", "", StringComparison.Ordinal)))
                    {
                        found.Add($"{Path.GetRelativePath(TestPaths.RepoRoot, file)}:{number}: {line.Trim()}");
                    }
                }
            }
        }

        Assert.True(found.Count == 0, "library strings with command-line flags (name the option property instead):\n" + string.Join("\n", found));
    }
}
