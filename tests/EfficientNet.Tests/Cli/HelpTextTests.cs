using System.Text.RegularExpressions;

namespace EfficientNet.Tests.Cli;

/// <summary>What --help says is true of the verb it describes, and a mistyped option gets one line back.</summary>
public partial class HelpTextTests
{
    public static TheoryData<string[]> Verbs => new()
    {
        { ["scale"] }, { ["variants"] }, { ["summary"] }, { ["compare"] }, { ["predict"] }, { ["export"] }, { ["bench"] }, { ["bench", "infer"] }, { ["bench", "predict"] },
        { ["bench", "train"] }, { ["bench", "data"] }, { ["train"] }, { ["evaluate"] }, { ["finetune"] }, { ["weights"] }, { ["weights", "download"] }, { ["serve"] },
    };

    [GeneratedRegex(@"(?<![\w-])--[a-z][a-z0-9-]*")]
    private static partial Regex OptionName();

    [GeneratedRegex(@"^  (?:-[\w?], )*(--[a-z][a-z0-9-]*)", RegexOptions.Multiline)]
    private static partial Regex OptionRow();

    [GeneratedRegex(@"\b(?:bench|tools|samples)/[\w./-]+\.\w+")]
    private static partial Regex RepositoryPath();

    [Theory]
    [MemberData(nameof(Verbs))]
    public void Help_NamesOnlyItsOwnOptionsAndFilesThatExist_AndEnumsAsTheyAreTyped(string[] verb)
    {
        var (exit, help, _) = CliRunner.Run([.. verb, "--help"]);
        Assert.Equal(0, exit);

        var own = OptionRow().Matches(help).Select(m => m.Groups[1].Value).ToHashSet();
        var foreign = OptionName().Matches(help).Select(m => m.Value).Where(name => !own.Contains(name)).Distinct().ToList();
        Assert.True(foreign.Count == 0, $"effnet {string.Join(' ', verb)} --help names options it does not have: {string.Join(", ", foreign)}");
        foreach (Match path in RepositoryPath().Matches(help))
        {
            Assert.True(File.Exists(Path.Combine(TestPaths.RepoRoot, path.Value)), $"effnet {string.Join(' ', verb)} --help names {path.Value}, which is not in the repository");
        }
        Assert.DoesNotMatch(@"<[A-Z][a-z0-9]+\|", help);
        Assert.DoesNotMatch(@"\[default: [A-Z][a-z]+\d*\]", help);
    }

    [Fact]
    public void BadOptionValue_IsOneLineThatSaysWhatWasExpected_AndWhereHelpIs()
    {
        Assert.Contains("--dataset 'imagenet': expected one of cifar10, folder ('effnet train --help' lists the options)",
            CliRunner.Fails("train", "--dataset", "imagenet"), StringComparison.Ordinal);
        Assert.Contains("--batch 'x': expected a whole number ('effnet bench infer --help' lists the options)",
            CliRunner.Fails("bench", "infer", "--batch", "x"), StringComparison.Ordinal);
        Assert.Contains("Unrecognized command or argument '--bogus'", CliRunner.Fails("evaluate", "--bogus"), StringComparison.Ordinal);
    }
}
