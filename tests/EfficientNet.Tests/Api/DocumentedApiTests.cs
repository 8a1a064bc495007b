using System.Reflection;
using System.Text.RegularExpressions;
using EfficientNet.Models;
using EfficientNet.Training.Running;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace EfficientNet.Tests.Api;

/// <summary>
/// The documented API is the public API: the C# of the README's library section and of docs/library.md compiles
/// against the two libraries as an outside assembly would (internal types invisible), and docs/library.md's list
/// of public types is exactly what they export.
/// </summary>
public class DocumentedApiTests
{
    private static readonly Assembly[] Libraries = [typeof(EfficientNetModel).Assembly, typeof(Trainer).Assembly];

    private static string LibraryPage => File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "library.md"));

    private static string ReadmeLibrarySection
    {
        get
        {
            string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
            int start = readme.IndexOf("\n## Library\n", StringComparison.Ordinal);
            int end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
            Assert.True(start >= 0 && end > start, "README.md has no '## Library' section");
            return readme[start..end];
        }
    }

    [Theory]
    [InlineData("README.md")]
    [InlineData("docs/library.md")]
    public void LibraryCodeBlock_CompilesAsAnOutsideAssembly(string document)
    {
        string text = document == "README.md" ? ReadmeLibrarySection : LibraryPage;
        var match = Regex.Match(text, "```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.True(match.Success, $"no csharp block in {document}'s library text");

        var errors = Compile(match.Groups[1].Value);

        Assert.True(errors.Count == 0, $"the library code of {document} does not compile:\n" + string.Join("\n", errors));
    }

    [Fact]
    public void Compile_InternalType_IsRefused()
    {
        // The check above could not fail if the snippet saw internals: an internal type must be an error here.
        var errors = Compile("EfficientNet.IO.FileKind.Of(\"x\");");

        Assert.Contains(errors, e => e.StartsWith("CS0122", StringComparison.Ordinal));
    }

    [Fact]
    public void PublicTypesList_EqualsWhatTheLibrariesExport()
    {
        var listed = Regex.Matches(LibraryPage, @"^- `(EfficientNet(?:\.\w+)*)`[^:]*: (.+)$", RegexOptions.Multiline)
            .SelectMany(m => Regex.Matches(m.Groups[2].Value, "`(\\w+)`").Select(t => $"{m.Groups[1].Value}.{t.Groups[1].Value}"))
            .Order(StringComparer.Ordinal)
            .ToList();
        var exported = Libraries
            .SelectMany(a => a.GetExportedTypes())
            .Where(t => t.DeclaringType is null)
            .Select(t => Regex.Replace(t.FullName!, "`\\d+$", ""))
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.True(listed.Count > 0, "docs/library.md lists no public types");
        Assert.Equal(exported, listed);
    }

    /// <summary>Compiles top-level statements as the assembly "ReadmeSnippet"; returns the errors as "CSxxxx: message".</summary>
    private static List<string> Compile(string code)
    {
        string[] trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var references = trusted
            .Where(path => !Path.GetFileName(path).StartsWith("EfficientNet.Tests", StringComparison.Ordinal))
            .Concat(Libraries.Select(a => a.Location))
            .Distinct()
            .Select(path => MetadataReference.CreateFromFile(path));
        var implicitUsings = "global using System;\nglobal using System.Collections.Generic;\nglobal using System.IO;\nglobal using System.Linq;\n";
        var compilation = CSharpCompilation.Create(
            "ReadmeSnippet",
            [CSharpSyntaxTree.ParseText(implicitUsings), CSharpSyntaxTree.ParseText(code)],
            references,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        using var output = new MemoryStream();
        var result = compilation.Emit(output);
        return result.Diagnostics
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => $"{d.Id}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)} ({d.Location.GetLineSpan().StartLinePosition})")
            .ToList();
    }
}
