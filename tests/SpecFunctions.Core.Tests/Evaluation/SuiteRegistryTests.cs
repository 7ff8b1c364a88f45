using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Tests.Evaluation;

public sealed class SuiteRegistryTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "specfn-registry-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private static EvaluationRequest Request(string suiteName) => new()
    {
        RunId = "template",
        Suite = new SuiteDefinition { Name = suiteName, Tasks = [new SuiteTask { Id = "en", Prompts = ["p"] }] },
        Verifier = "demo-verifier",
        Drafter = "demo-drafter",
        Settings = new EvaluationSettings { Gamma = 3 },
    };

    [Fact]
    public async Task ListAsync_NeverWritten_Empty()
    {
        Assert.Empty(await new SuiteRegistry(new LocalFolderObjectStore(_folder)).ListAsync());
    }

    [Fact]
    public async Task RegisterAsync_ThenRecordRuns_PersistedInOrder()
    {
        var registry = new SuiteRegistry(new LocalFolderObjectStore(_folder));
        await registry.RegisterAsync("mgsm", Request("MGSM"));
        await registry.RecordRunAsync("mgsm", "run-1");
        await registry.RecordRunAsync("mgsm", "run-2");
        await registry.RecordRunAsync("mgsm", "run-2");

        var suite = Assert.Single(await new SuiteRegistry(new LocalFolderObjectStore(_folder)).ListAsync());

        Assert.Equal("mgsm", suite.Name);
        Assert.Equal(["run-1", "run-2"], suite.Runs);
        Assert.Equal(3, suite.Request.Settings.Gamma);
        Assert.True(File.Exists(Path.Combine(_folder, "registry", "suites.json")));
    }

    [Fact]
    public async Task RegisterAsync_Again_KeepsHistoryReplacesRequest()
    {
        var registry = new SuiteRegistry(new LocalFolderObjectStore(_folder));
        await registry.RegisterAsync("mgsm", Request("old"));
        await registry.RecordRunAsync("mgsm", "run-1");

        await registry.RegisterAsync("mgsm", Request("new"));

        var suite = Assert.Single(await registry.ListAsync());
        Assert.Equal("new", suite.Request.Suite.Name);
        Assert.Equal(["run-1"], suite.Runs);
    }

    [Fact]
    public async Task RecordRunAsync_BeyondCap_DropsOldest()
    {
        var registry = new SuiteRegistry(new LocalFolderObjectStore(_folder));
        await registry.RegisterAsync("s", Request("s"));
        for (var i = 1; i <= SuiteRegistry.MaxRunsKept + 2; i++)
        {
            await registry.RecordRunAsync("s", $"run-{i}");
        }

        var runs = Assert.Single(await registry.ListAsync()).Runs;

        Assert.Equal(SuiteRegistry.MaxRunsKept, runs.Count);
        Assert.Equal("run-3", runs[0]);
        Assert.Equal($"run-{SuiteRegistry.MaxRunsKept + 2}", runs[^1]);
    }

    [Fact]
    public async Task RegisterAsync_ConcurrentWriters_NoneLost()
    {
        var names = Enumerable.Range(0, 8).Select(i => $"suite-{i}").ToList();

        await Task.WhenAll(names.Select(n => Task.Run(() => new SuiteRegistry(new LocalFolderObjectStore(_folder)).RegisterAsync(n, Request(n)))));

        var suites = await new SuiteRegistry(new LocalFolderObjectStore(_folder)).ListAsync();
        Assert.Equal(names, suites.Select(s => s.Name));
    }

    [Theory]
    [InlineData("Upper")]
    [InlineData("../x")]
    [InlineData("a-name-that-is-longer-than-forty-characters-x")]
    public async Task RegisterAsync_InvalidName_Throws(string name)
    {
        var registry = new SuiteRegistry(new LocalFolderObjectStore(_folder));

        await Assert.ThrowsAsync<ArgumentException>(() => registry.RegisterAsync(name, Request("s")));
        Assert.False(Directory.Exists(Path.Combine(_folder, "registry")));
    }

    [Fact]
    public async Task RecordRunAsync_UnknownSuite_Throws()
    {
        var registry = new SuiteRegistry(new LocalFolderObjectStore(_folder));

        var ex = await Assert.ThrowsAsync<KeyNotFoundException>(() => registry.RecordRunAsync("ghost", "run-1"));

        Assert.Contains("'ghost'", ex.Message);
    }
}
