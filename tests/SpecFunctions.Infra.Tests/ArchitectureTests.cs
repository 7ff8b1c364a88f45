using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace SpecFunctions.Infra.Tests;

/// <summary>
/// The project reference graph of src/ is the DAG of ../shared/docs/architecture.md (issue 29, move 1): the method in
/// Core, the model families (Demo, Training) beside the workflow (Orchestration) and never under it, the hosts on top.
/// A new edge must be added here on purpose, with its reason. Test-only code lives in tests/SpecFunctions.TestKit, never in
/// a product assembly (move 4).
/// </summary>
public sealed partial class ArchitectureTests
{
    private static readonly Dictionary<string, string[]> _allowed = new()
    {
        ["SpecFunctions.Core"] = [],
        // Graphs written in code (OnnxSharp), no ONNX Runtime: the families export through it without a native runtime.
        ["SpecFunctions.OnnxGraphs"] = ["SpecFunctions.Core"],
        ["SpecFunctions.Onnx"] = ["SpecFunctions.Core", "SpecFunctions.OnnxGraphs"],
        ["SpecFunctions.Storage"] = ["SpecFunctions.Core"],
        ["SpecFunctions.Demo"] = ["SpecFunctions.Core", "SpecFunctions.OnnxGraphs"],
        // The transformer family: its trainer implements Core's IDrafterTrainer; no Orchestration.
        ["SpecFunctions.Training"] = ["SpecFunctions.Core", "SpecFunctions.Onnx", "SpecFunctions.OnnxGraphs", "SpecFunctions.Demo"],
        // The workflow knows ports (IModelCatalog, IDrafterTrainer), never a family.
        ["SpecFunctions.Orchestration"] = ["SpecFunctions.Core", "SpecFunctions.Onnx"],
        // Hosts: the only places that plug families into the workflow.
        ["SpecFunctions.Functions"] = ["SpecFunctions.Core", "SpecFunctions.Onnx", "SpecFunctions.Storage", "SpecFunctions.Orchestration", "SpecFunctions.Demo"],
        ["SpecFunctions.Cli"] =
        [
            "SpecFunctions.Core", "SpecFunctions.Onnx", "SpecFunctions.Storage", "SpecFunctions.Orchestration", "SpecFunctions.Demo", "SpecFunctions.Training",
        ],
    };

    private static readonly string _separator = Path.DirectorySeparatorChar.ToString();

    private static IEnumerable<string> SourceProjects => Directory.EnumerateFiles(RepositoryRoot.Combine("src"), "*.csproj", SearchOption.AllDirectories)
        .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
        .Where(p => Path.GetFileName(p) != "WorkerExtensions.csproj"); // the Functions SDK's generated project

    [Fact]
    public void ProjectReferences_AreTheAllowedGraph()
    {
        var actual = SourceProjects.ToDictionary(
            p => Path.GetFileNameWithoutExtension(p),
            p => XDocument.Load(p).Descendants("ProjectReference")
                .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value.Replace('\\', '/')))
                .Order(StringComparer.Ordinal)
                .ToArray());

        Assert.Equal(_allowed.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        Assert.All(actual, project => Assert.True(
            _allowed[project.Key].Order(StringComparer.Ordinal).SequenceEqual(project.Value),
            $"{project.Key} references [{string.Join(", ", project.Value)}]; allowed: [{string.Join(", ", _allowed[project.Key])}]"));
    }

    [Fact]
    public void ProductProjects_ShowTheirInternalsOnlyToTheirOwnTests()
    {
        foreach (var project in SourceProjects)
        {
            var name = Path.GetFileNameWithoutExtension(project);
            var friends = XDocument.Load(project).Descendants("InternalsVisibleTo").Select(e => e.Attribute("Include")!.Value).ToList();

            Assert.All(friends, friend => Assert.True(friend == name + ".Tests", $"{name} shows its internals to {friend}"));
        }
    }

    [Fact]
    public void ProductProjects_HoldNoTestingCode()
    {
        var sources = Directory.EnumerateFiles(RepositoryRoot.Combine("src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{_separator}obj{_separator}", StringComparison.Ordinal) && !f.Contains($"{_separator}bin{_separator}", StringComparison.Ordinal))
            .ToList();
        Assert.True(sources.Count > 100, $"only {sources.Count} source files found under src/");

        // No folder and no namespace called Testing.
        var folders = sources.Select(f => Path.GetRelativePath(RepositoryRoot.Path, Path.GetDirectoryName(f)!)).Distinct();
        Assert.DoesNotContain(folders, folder => folder.Split(Path.DirectorySeparatorChar).Contains("Testing"));
        var namespaces = sources.SelectMany(f => NamespaceDeclaration().Matches(File.ReadAllText(f)).Select(m => (File: f, Namespace: m.Groups[1].Value)));
        Assert.DoesNotContain(namespaces, n => n.Namespace.Split('.').Contains("Testing"));

        // The test kit's types are declared there only, and no product project references a test project.
        var testKit = Directory.EnumerateFiles(RepositoryRoot.Combine("tests", "SpecFunctions.TestKit"), "*.cs", SearchOption.TopDirectoryOnly)
            .SelectMany(f => TypeDeclaration().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
            .ToHashSet(StringComparer.Ordinal);
        Assert.Contains("TinyWindowModelBuilder", testKit);
        var declared = sources.SelectMany(f => TypeDeclaration().Matches(File.ReadAllText(f)).Select(m => (File: f, Type: m.Groups[1].Value)));
        Assert.DoesNotContain(declared, d => testKit.Contains(d.Type));
        Assert.All(SourceProjects, project => Assert.DoesNotContain(
            XDocument.Load(project).Descendants("ProjectReference"),
            r => r.Attribute("Include")!.Value.Replace('\\', '/').Contains("/tests/", StringComparison.Ordinal)));
    }

    [Fact]
    public void OnnxGraphs_WritesGraphsWithoutOnnxRuntime()
    {
        var packages = XDocument.Load(RepositoryRoot.Combine("src", "SpecFunctions.OnnxGraphs", "SpecFunctions.OnnxGraphs.csproj"))
            .Descendants("PackageReference").Select(r => r.Attribute("Include")!.Value).ToList();

        Assert.Equal(["OnnxSharp"], packages);
    }

    /// <summary>
    /// Style habit 7, move 5: every options type the Functions host registers is bound from its section and validated
    /// when the host starts, one way: <c>AddOptions&lt;T&gt;()…BindConfiguration(T.SectionName)…ValidateOnStart()</c>.
    /// No <c>Get&lt;T&gt;</c>, no hand-read sections.
    /// </summary>
    [Fact]
    public void FunctionsHost_BindsEveryOptionsTypeOneWay()
    {
        var sources = new[] { RepositoryRoot.Combine("src", "SpecFunctions.Functions"), RepositoryRoot.Combine("src", "SpecFunctions.Storage") }
            .SelectMany(d => Directory.EnumerateFiles(d, "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{_separator}obj{_separator}", StringComparison.Ordinal) && !f.Contains($"{_separator}bin{_separator}", StringComparison.Ordinal))
            .ToDictionary(f => Path.GetRelativePath(RepositoryRoot.Path, f), File.ReadAllText);

        // One chain: from AddOptions<T>() to the next AddOptions (or the end of the file).
        var chains = sources.Values.SelectMany(text => OptionsChain().Matches(text).Select(m => (Type: m.Groups[1].Value, Chain: m.Value))).ToList();
        var types = chains.Select(c => c.Type).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.True(types.Count >= 8, $"only {types.Count} options types found: {string.Join(", ", types)}");
        Assert.All(types, type => Assert.Contains(chains, c => c.Type == type
            && c.Chain.Contains($".BindConfiguration({type}.SectionName)", StringComparison.Ordinal)
            && c.Chain.Contains(".ValidateOnStart()", StringComparison.Ordinal)));

        var hosting = sources.Where(s => s.Key.Contains($"{_separator}Hosting{_separator}", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(hosting);
        Assert.DoesNotContain(hosting, s => s.Value.Contains(".Get<", StringComparison.Ordinal) || s.Value.Contains("GetSection(", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"AddOptions<(\w+)>\(\)(?:(?!AddOptions<).)*", RegexOptions.Singleline)]
    private static partial Regex OptionsChain();

    [GeneratedRegex(@"^\s*namespace\s+([\w.]+)", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex(@"\b(?:class|record|struct|interface|enum)\s+([A-Z]\w*)")]
    private static partial Regex TypeDeclaration();
}
