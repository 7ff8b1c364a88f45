using System.Text.Json.Nodes;
using SpecFunctions.Core.Storage;
using SpecFunctions.TestKit;

namespace SpecFunctions.Cli.Tests;

/// <summary><c>specfn runs</c> on a local store: newest first, filters, JSON, and bad options refused with exit 2.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class RunsCommandTests : IDisposable
{
    private readonly string _store = Path.Combine(Path.GetTempPath(), "specfn-runs-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_store))
        {
            Directory.Delete(_store, recursive: true);
        }
    }

    [Fact]
    public async Task Runs_TwoSuites_ListsNewestFirstAndFilters()
    {
        await SeedAsync();

        var (exit, stdout, stderr) = await CliHarness.RunAsync("runs", "--store", _store);
        Assert.Equal(0, exit);
        Assert.Equal(string.Empty, stderr);
        var lines = CliHarness.Lines(stdout);
        var older = Array.FindIndex(lines, l => l.Contains("older-run", StringComparison.Ordinal));
        var newer = Array.FindIndex(lines, l => l.Contains("newer-run", StringComparison.Ordinal));
        Assert.True(newer >= 0 && older > newer, stdout);
        Assert.Contains("mgsm", lines[older], StringComparison.Ordinal);
        Assert.Contains("1/2", lines[older], StringComparison.Ordinal);
        Assert.Contains("tiny-drafter → tiny-verifier", lines[newer], StringComparison.Ordinal);
        Assert.Contains("Failed", lines[newer], StringComparison.Ordinal);

        (exit, stdout, _) = await CliHarness.RunAsync("runs", "--store", _store, "--suite", "mgsm", "--json");
        Assert.Equal(0, exit);
        var page = JsonNode.Parse(stdout)!;
        var run = Assert.Single(page["runs"]!.AsArray());
        Assert.Equal("older-run", (string?)run!["runId"]);
        Assert.Equal("Running", (string?)run["status"]);
        Assert.Equal(1, (int?)run["tasksDone"]);
        Assert.False((bool?)page["hasMore"]);

        (exit, stdout, _) = await CliHarness.RunAsync("runs", "--store", _store, "--page-size", "1", "--json");
        Assert.Equal(0, exit);
        page = JsonNode.Parse(stdout)!;
        Assert.Equal("newer-run", (string?)Assert.Single(page["runs"]!.AsArray())!["runId"]);
        Assert.True((bool?)page["hasMore"]);
    }

    [Fact]
    public async Task Runs_EmptyStore_SaysSo()
    {
        var (exit, stdout, _) = await CliHarness.RunAsync("runs", "--store", _store);
        Assert.Equal(0, exit);
        Assert.Equal("no runs", stdout.Trim());
    }

    [Theory]
    [InlineData("--page-size", "0", "--page-size: must be in 1..100")]
    [InlineData("--page-size", "101", "--page-size: must be in 1..100")]
    [InlineData("--page", "0", "--page: must be 1 or more")]
    [InlineData("--status", "done", "--status: must be one of Running, Completed, Failed")]
    public async Task Runs_BadOption_ExitsTwoAndCreatesNothing(string option, string value, string message)
    {
        var (exit, stdout, stderr) = await CliHarness.RunAsync("runs", "--store", _store, option, value);
        Assert.Equal(2, exit);
        Assert.Equal(string.Empty, stdout);
        Assert.StartsWith("specfn: " + message, stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_store));
    }

    private async Task SeedAsync()
    {
        var store = TraceStore.OpenFolder(_store);
        foreach (var (id, suite, failed) in new[] { ("older-run", "mgsm", false), ("newer-run", "other", true) })
        {
            await StoredRuns.AddAsync(store, StoredRuns.Manifest(id, suite, DateTimeOffset.UnixEpoch, ("en", TaskState.Committed), ("sw", failed ? TaskState.Failed : TaskState.Pending)));

            // The newer run's created.json is written later (file times have sub-millisecond resolution here).
            await Task.Delay(50);
        }
    }
}
