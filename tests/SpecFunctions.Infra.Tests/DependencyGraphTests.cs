using System.Text.Json;
using System.Xml.Linq;

namespace SpecFunctions.Infra.Tests;

/// <summary>
/// The package graph the committed lock files hold (issue 24): every project has one, the graph is one version per
/// package across the whole solution (so the published Functions app and its tests run the same assemblies), and the
/// families that must move together (the Durable Task SDK, gRPC, Microsoft.Extensions) are each on one version.
/// </summary>
public sealed class DependencyGraphTests
{
    /// <summary>The projects that import src/OnnxRuntime.Native.props, whose CUDA flavour has its own lock file.</summary>
    private static readonly string[] _gpuFlavoured =
    [
        "src/SpecFunctions.Cli", "src/SpecFunctions.Functions", "tests/SpecFunctions.Onnx.Tests", "tests/SpecFunctions.Benchmarks",
    ];

    private static IReadOnlyList<string> Projects { get; } = File.ReadAllLines(RepositoryRoot.Combine("SpecFunctions.sln"))
        .Where(line => line.StartsWith("Project(", StringComparison.Ordinal) && line.Contains(".csproj", StringComparison.Ordinal))
        .Select(line => line.Split('"')[5].Replace('\\', '/'))
        .Select(path => Path.GetDirectoryName(path)!)
        .ToList();

    [Fact]
    public void EveryProject_HasACommittedLockFile_AndTheCudaFlavouredOnesASecond()
    {
        Assert.True(Projects.Count >= 20, $"only {Projects.Count} projects read from the solution");
        Assert.All(Projects, p => Assert.True(File.Exists(RepositoryRoot.Combine(p, "packages.lock.json")), $"{p} has no packages.lock.json"));
        Assert.All(_gpuFlavoured, p => Assert.True(File.Exists(RepositoryRoot.Combine(p, "packages.gpu.lock.json")), $"{p} has no packages.gpu.lock.json"));
        Assert.True(File.Exists(RepositoryRoot.Combine("src", "SpecFunctions.Functions.WorkerExtensions", "packages.lock.json")),
            "the Functions host's extensions project has no lock file");

        // Exactly the projects that import the native props are CUDA-flavoured: one added later needs its second lock.
        var importers = Projects.Where(p => File.ReadAllText(RepositoryRoot.Combine(p, Path.GetFileName(p) + ".csproj"))
            .Contains("OnnxRuntime.Native.props", StringComparison.Ordinal));
        Assert.Equal(_gpuFlavoured.Order(), importers.Order());
    }

    [Fact]
    public void AcrossTheSolution_EveryPackageResolvesToOneVersion()
    {
        var versions = ResolvedVersions();
        var split = versions.Where(p => p.Value.Count > 1)
            .Select(p => $"{p.Key}: {string.Join(", ", p.Value.Select(v => $"{v.Key} ({string.Join(' ', v.Value)})"))}")
            .ToList();

        Assert.True(versions.Count > 100, $"only {versions.Count} packages read from the lock files");
        Assert.True(split.Count == 0, "packages on more than one version:\n" + string.Join('\n', split));
    }

    [Theory]
    [InlineData("Microsoft.DurableTask.", "Microsoft.DurableTask.InProcessTestHost")] // the preview engine has its own numbers
    [InlineData("Grpc.", null)]
    [InlineData("Microsoft.Extensions.", "Microsoft.Extensions.AI.")]                  // a release train of its own
    public void EachFamily_IsOnOneVersion(string prefix, string? exceptPrefix)
    {
        var family = ResolvedVersions()
            .Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal)
                        && (exceptPrefix is null || !p.Key.StartsWith(exceptPrefix, StringComparison.Ordinal)))
            .ToDictionary(p => p.Key, p => p.Value.Keys.Single());

        Assert.True(family.Count >= 5, $"only {family.Count} {prefix}* packages in the graph");
        Assert.True(family.Values.Distinct().Count() == 1,
            $"{prefix}* is on several versions: {string.Join(", ", family.Select(p => $"{p.Key} {p.Value}"))}");
    }

    [Fact]
    public void TheFunctionsApp_AndItsTests_ResolveTheSameAssemblies()
    {
        var app = LockedPackages("src/SpecFunctions.Functions/packages.lock.json");
        var tests = LockedPackages("tests/SpecFunctions.Functions.Tests/packages.lock.json");
        var shared = app.Keys.Intersect(tests.Keys).ToList();

        Assert.Contains("Microsoft.DurableTask.Worker", shared);
        Assert.Contains("Grpc.Net.Client", shared);
        Assert.All(shared, name => Assert.True(app[name] == tests[name], $"{name}: app {app[name]}, tests {tests[name]}"));
    }

    [Fact]
    public void CentralPins_CoverTransitivePackages_AndFloatingIsAnError()
    {
        var packages = XDocument.Load(RepositoryRoot.Combine("Directory.Packages.props"));
        var props = File.ReadAllText(RepositoryRoot.Combine("Directory.Build.props"));

        Assert.Equal("true", packages.Descendants("CentralPackageTransitivePinningEnabled").Single().Value);
        Assert.Contains("<RestorePackagesWithLockFile>true</RestorePackagesWithLockFile>", props, StringComparison.Ordinal);
        // NU1603 (a wanted version not served, the next one taken) must neither be hidden nor downgraded to a warning.
        var relaxed = XDocument.Parse(props).Descendants().Where(e => e.Name.LocalName is "NoWarn" or "WarningsNotAsErrors").Select(e => e.Value);
        Assert.All(relaxed, value => Assert.DoesNotContain("NU1603", value, StringComparison.Ordinal));
    }

    /// <summary>Package → version → the lock files (project names) that resolve it, over every lock file of ours.</summary>
    private static Dictionary<string, Dictionary<string, SortedSet<string>>> ResolvedVersions()
    {
        var result = new Dictionary<string, Dictionary<string, SortedSet<string>>>(StringComparer.Ordinal);
        var lockFiles = Projects.Select(p => $"{p}/packages.lock.json").Concat(_gpuFlavoured.Select(p => $"{p}/packages.gpu.lock.json"));
        foreach (var lockFile in lockFiles)
        {
            foreach (var (name, version) in LockedPackages(lockFile))
            {
                var byVersion = result.TryGetValue(name, out var found) ? found : result[name] = new(StringComparer.Ordinal);
                (byVersion.TryGetValue(version, out var files) ? files : byVersion[version] = new(StringComparer.Ordinal)).Add(lockFile);
            }
        }

        return result;
    }

    /// <summary>The packages (not projects) one lock file resolves, over all its target graphs.</summary>
    private static Dictionary<string, string> LockedPackages(string relativePath)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(RepositoryRoot.Combine(relativePath)));
        var packages = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var target in document.RootElement.GetProperty("dependencies").EnumerateObject())
        {
            foreach (var package in target.Value.EnumerateObject())
            {
                if (package.Value.GetProperty("type").GetString() == "Project")
                {
                    continue;
                }

                var version = package.Value.GetProperty("resolved").GetString()!;
                if (packages.TryGetValue(package.Name, out var other) && other != version)
                {
                    Assert.Fail($"{relativePath}: {package.Name} resolves to {other} and {version}");
                }

                packages[package.Name] = version;
            }
        }

        return packages;
    }
}
