using System.Xml.Linq;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.TestKit;

namespace SpecFunctions.Cli.Tests;

/// <summary><c>specfn trend SUITE</c> on a local store: the table and the chart page hold the reports' figures; unknown suites write nothing.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class TrendCommandTests : IDisposable
{
    private static readonly XNamespace S = "http://www.w3.org/2000/svg";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "specfn-trend-tests", Guid.NewGuid().ToString("N"));

    private string Store => Path.Combine(_root, "store");

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Trend_TwoReportsOfTheSuite_PrintsTheTableAndWritesTheChartPage()
    {
        await SeedAsync();
        var html = Path.Combine(_root, "out", "trend.html");

        var (exit, stdout, stderr) = await CliHarness.RunAsync("trend", "multilingual", "--store", Store, "--html", html);

        Assert.True(exit == 0, stderr);
        Assert.Equal(string.Empty, stderr);
        var lines = CliHarness.Lines(stdout);
        var first = Array.FindIndex(lines, l => l.Contains("run-a", StringComparison.Ordinal));
        var second = Array.FindIndex(lines, l => l.Contains("run-b", StringComparison.Ordinal));
        Assert.True(first >= 0 && second > first, stdout);
        Assert.Contains("0.030000", lines[first], StringComparison.Ordinal);
        Assert.Contains("1.250 [1.200, 1.300]", lines[first], StringComparison.Ordinal);
        Assert.Contains("0.060000", lines[second], StringComparison.Ordinal);
        Assert.Contains("1.050 [1.000, 1.100]", lines[second], StringComparison.Ordinal);
        Assert.Contains("promoted (s-cdf)", lines[second], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Contains("without a report yet: run-c", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("chart page: " + html, StringComparison.Ordinal));

        var page = XDocument.Load(html);
        Assert.Equal(
            ["U@run-a=0.03", "U@run-b=0.06", "en@run-a=1.25", "en@run-b=1.05"],
            page.Descendants(S + "circle").Select(c => $"{c.Attribute("data-series")!.Value}@{c.Attribute("data-run")!.Value}={c.Attribute("data-value")!.Value}"));
        Assert.Equal(["run-b", "run-b"], page.Descendants(S + "line")
            .Where(l => ((string?)l.Attribute("class"))?.Contains("promotion", StringComparison.Ordinal) == true)
            .Select(l => l.Attribute("data-run")!.Value));
        var link = page.Descendants().Single(e => e.Name.LocalName == "a" && e.Value == "run-a").Attribute("href")!.Value;
        Assert.Equal(new Uri(Path.Combine(Store, "runs", "run-a", "report.html")).AbsoluteUri, link);
    }

    [Fact]
    public async Task Trend_NoRunsOfTheSuite_ExitsOneAndWritesNoPage()
    {
        await SeedAsync();
        var html = Path.Combine(_root, "out", "none.html");

        var (exit, stdout, stderr) = await CliHarness.RunAsync("trend", "never-run", "--store", Store, "--html", html);

        Assert.Equal(1, exit);
        Assert.Equal(string.Empty, stdout);
        Assert.StartsWith($"specfn: no runs of suite 'never-run' in {Store}", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(html));
    }

    private async Task SeedAsync()
    {
        var store = TraceStore.OpenFolder(Store);
        foreach (var (id, day, u, speedup, lo, hi, report) in new[]
        {
            ("run-a", 1, 0.03, 1.25, 1.2, 1.3, true), ("run-b", 2, 0.06, 1.05, 1.0, 1.1, true), ("run-c", 3, 0, 0, 0, 0, false),
        })
        {
            var manifest = StoredRuns.Manifest(id, "multilingual", new DateTimeOffset(2026, 11, day, 1, 0, 0, TimeSpan.Zero), ("en", report ? TaskState.Committed : TaskState.Pending));
            await StoredRuns.AddAsync(store, manifest, report
                ? StoredRuns.Report(id, new DateTimeOffset(2026, 11, day, 2, 0, 0, TimeSpan.Zero), "en", u, speedup, new IntervalReport { Lower = lo, Upper = hi }) with
                {
                    Mitigation = id == "run-b"
                        ? new MitigationReport { Strategy = "s-cdf", UnfairnessBefore = 0.09, UnfairnessAfter = 0.06, MeanSpeedupBefore = 1, MeanSpeedupAfter = 1.05, Promoted = true }
                        : null,
                }
                : null);

            await Task.Delay(50);
        }
    }
}
