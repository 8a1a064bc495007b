using System.Text.RegularExpressions;

namespace EfficientNet.Tests.Api;

/// <summary>
/// The README is the way into the documentation: every page of docs/ is linked from it, and every relative link in
/// the README, CHANGELOG.md and docs/ names a file that exists and, after '#', a heading of that file.
/// </summary>
public class DocumentationLinksTests
{
    private static IEnumerable<string> Documents() =>
        new[] { "README.md", "CHANGELOG.md" }
            .Concat(Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "docs"), "*.md")
                .Select(path => Path.GetRelativePath(TestPaths.RepoRoot, path)))
            .Where(path => !path.StartsWith(Path.Combine("docs", "package"), StringComparison.Ordinal));

    /// <summary>Relative link targets of a Markdown file: (file path relative to the repository, anchor or null).</summary>
    private static IEnumerable<(string Text, string File, string? Anchor)> RelativeLinks(string document)
    {
        string text = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, document));
        foreach (Match match in Regex.Matches(text, @"\]\(([^)\s]+)\)"))
        {
            string target = match.Groups[1].Value;
            if (Regex.IsMatch(target, "^[a-z]+:", RegexOptions.IgnoreCase))
                continue;
            int hash = target.IndexOf('#', StringComparison.Ordinal);
            string file = hash < 0 ? target : target[..hash];
            string? anchor = hash < 0 ? null : target[(hash + 1)..];
            string resolved = file.Length == 0
                ? document
                : Path.GetRelativePath(TestPaths.RepoRoot, Path.GetFullPath(Path.Combine(TestPaths.RepoRoot, Path.GetDirectoryName(document)!, file)));
            yield return (target, resolved, anchor);
        }
    }

    /// <summary>GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.</summary>
    private static string Anchor(string heading) =>
        Regex.Replace(heading.Trim().ToLowerInvariant(), @"[^\p{L}\p{N} _-]", "").Replace(' ', '-');

    private static HashSet<string> Anchors(string document) =>
        Regex.Matches(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, document)), @"^#{1,6} (.+)$", RegexOptions.Multiline)
            .Select(m => Anchor(m.Groups[1].Value))
            .ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void EveryRelativeLink_NamesAnExistingFileAndHeading()
    {
        var broken = new List<string>();
        foreach (string document in Documents())
        {
            foreach (var (text, file, anchor) in RelativeLinks(document))
            {
                string full = Path.Combine(TestPaths.RepoRoot, file);
                if (!File.Exists(full) && !Directory.Exists(full))
                    broken.Add($"{document}: ({text}): no such file");
                else if (anchor is not null && file.EndsWith(".md", StringComparison.Ordinal) && !Anchors(file).Contains(anchor))
                    broken.Add($"{document}: ({text}): no heading '#{anchor}' in {file}");
            }
        }

        Assert.True(broken.Count == 0, "broken links:\n" + string.Join("\n", broken));
    }

    [Fact]
    public void EveryDocsPage_IsLinkedFromTheReadme()
    {
        var linked = RelativeLinks("README.md").Select(link => link.File).ToHashSet(StringComparer.Ordinal);
        var unlinked = Documents().Where(d => d != "README.md" && !linked.Contains(d)).ToList();

        Assert.True(unlinked.Count == 0, "not linked from README.md: " + string.Join(", ", unlinked));
    }

    [Fact]
    public void Anchor_FollowsGitHubsRule()
    {
        // The check above could pass with a wrong rule only if every anchor were wrong the same way.
        Assert.Equal("effnet-bench-infer", Anchor("`effnet bench infer`"));
        Assert.Equal("stopping-resuming-diverging", Anchor("Stopping, resuming, diverging"));
        Assert.Equal("torchsharp-on-debian-12--ubuntu-2204", Anchor("TorchSharp on Debian 12 / Ubuntu 22.04"));
    }
}
