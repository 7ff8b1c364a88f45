using System.Globalization;
using System.Xml.Linq;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Tests.Reporting;

/// <summary>
/// <see cref="SuiteTrends"/> over reports in a real local store, and the chart page <see cref="DashboardPageWriter"/>
/// draws from them: every point equals its report, markers sit on the runs whose check fired or whose mitigation was
/// promoted, and the table under each chart holds the same figures.
/// </summary>
public sealed class SuiteTrendsTests : IDisposable
{
    private static readonly XNamespace H = "http://www.w3.org/1999/xhtml";
    private static readonly XNamespace S = "http://www.w3.org/2000/svg";

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "specfn-trend-tests", Guid.NewGuid().ToString("N"));
    private readonly TraceStore _store;
    private readonly SuiteRegistry _registry;

    public SuiteTrendsTests()
    {
        var objects = new LocalFolderObjectStore(_folder);
        _store = new TraceStore(objects);
        _registry = new SuiteRegistry(objects);
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public async Task ReadAuditSuitesAsync_ThreeReportsAndARunningRun_PointsEqualTheReportsOldestFirst()
    {
        await SeedAsync();

        var trend = Assert.Single(await SuiteTrends.ReadAuditSuitesAsync(_store, _registry));

        Assert.Equal("nightly", trend.Suite);
        Assert.Equal(["audit-1", "audit-2", "audit-3"], trend.Points.Select(p => p.RunId));
        Assert.Equal(["audit-4"], trend.RunsWithoutReport);
        Assert.Equal(["en", "sw"], trend.TaskIds);
        Assert.Equal([0.02, 0.05, 0.01], trend.Points.Select(p => p.Unfairness));
        Assert.Equal([1.5, 1.45, 1.5], trend.Points.Select(p => p.Tasks[0].Speedup!.Value));
        Assert.Equal([1.2, 1.0, 1.4], trend.Points.Select(p => p.Tasks[1].Speedup!.Value));
        Assert.Equal((1.4, 1.6), (trend.Points[0].Tasks[0].Lower!.Value, trend.Points[0].Tasks[0].Upper!.Value));
        Assert.Equal([false, true, false], trend.Points.Select(p => p.Regressed));
        Assert.Equal(["worst-task speed-up fell"], trend.Points[1].RegressionReasons);
        Assert.Equal([false, false, true], trend.Points.Select(p => p.Promoted));
        Assert.Equal("s-cdf", trend.Points[2].PromotedStrategy);
    }

    [Fact]
    public async Task ReadSuiteAsync_UnregisteredSuite_UsesTheStoredRunsOfThatSuiteName()
    {
        foreach (var (id, hour, u) in new[] { ("cli-1", 1, 0.03), ("cli-2", 2, 0.04) })
        {
            await CreateRunAsync(id, "multilingual", hour);
            await ReportPublisher.PublishAsync(_store, TestReports.Report(id, u, ("en", 1.3, 1.25)) with { GeneratedAt = At(hour) });
        }

        await CreateRunAsync("other-suite-run", "other", 3);

        var trend = await SuiteTrends.ReadSuiteAsync(_store, _registry, "multilingual");

        Assert.NotNull(trend);
        Assert.Equal(["cli-1", "cli-2"], trend.Points.Select(p => p.RunId));
        Assert.Equal([0.03, 0.04], trend.Points.Select(p => p.Unfairness));
        Assert.Equal([1.25, 1.25], trend.Points.Select(p => p.Tasks.Single().Speedup!.Value));
        Assert.Null(await SuiteTrends.ReadSuiteAsync(_store, _registry, "never-run"));
    }

    [Fact]
    public async Task Write_Trend_ChartPointsMarkersAndTableMatchTheReports()
    {
        await SeedAsync();
        var trends = await SuiteTrends.ReadAuditSuitesAsync(_store, _registry);

        var page = XDocument.Parse(DashboardPageWriter.Write(trends, new DashboardPageOptions { ReportHref = id => $"reports/{id}.html" }));

        var section = page.Descendants(H + "section").Single(e => (string?)e.Attribute("data-suite") == "nightly");
        var u = Svg(section, "trend-u");
        Assert.Equal(["0.02", "0.05", "0.01"], Values(u, "U"));
        var speedup = Svg(section, "trend-speedup");
        Assert.Equal(["1.5", "1.45", "1.5"], Values(speedup, "en"));
        Assert.Equal(["1.2", "1", "1.4"], Values(speedup, "sw"));
        var ci = speedup.Descendants(S + "line").Where(l => Classes(l).Contains("ci") && (string?)l.Attribute("data-run") == "audit-1").ToList();
        Assert.Equal(["1.4|1.6", "1.1|1.3"], ci.Select(l => $"{l.Attribute("data-lower")!.Value}|{l.Attribute("data-upper")!.Value}"));
        // audit-3's sw speed-up has no interval: no whisker, the point alone.
        Assert.DoesNotContain(speedup.Descendants(S + "line"), l => Classes(l).Contains("ci") && (string?)l.Attribute("data-run") == "audit-3" && (string?)l.Attribute("data-series") == "sw");
        foreach (var svg in new[] { u, speedup })
        {
            Assert.Equal(["audit-2"], Markers(svg, "regression"));
            Assert.Equal(["audit-3"], Markers(svg, "promotion"));
            Assert.Equal("img", (string?)svg.Attribute("role"));
        }

        // Higher values sit higher on the chart: y grows downwards.
        var uY = u.Descendants(S + "circle").Select(c => double.Parse(c.Attribute("cy")!.Value, CultureInfo.InvariantCulture)).ToList();
        Assert.True(uY[1] < uY[0] && uY[0] < uY[2], string.Join(", ", uY));

        var table = section.Descendants(H + "table").Single(t => Classes(t).Contains("trend-table"));
        var rows = table.Element(H + "tbody")!.Elements(H + "tr").ToList();
        Assert.Equal(["audit-1", "audit-2", "audit-3"], rows.Select(r => (string?)r.Attribute("data-run")));
        Assert.Equal("1.500 [1.400, 1.600]", Cell(rows[0], "en").Value);
        Assert.Equal("1.400", Cell(rows[2], "sw").Value);
        Assert.Equal("0.05", Cell(rows[1], "U").Attribute("data-value")!.Value);
        Assert.Equal("regression: worst-task speed-up fell", rows[1].Elements(H + "td").Last().Value);
        Assert.Equal("mitigation promoted (s-cdf)", rows[2].Elements(H + "td").Last().Value);
        Assert.Equal("reports/audit-2.html", rows[1].Descendants(H + "a").Single().Attribute("href")!.Value);
        Assert.Equal(table.Attribute("id")!.Value, u.Attribute("aria-describedby")!.Value);

        // Self-contained: no script without live updates, nothing fetched from elsewhere.
        Assert.Empty(page.Descendants(H + "script"));
        Assert.DoesNotContain(page.Descendants(), e => e.Attribute("src") is not null);
        Assert.DoesNotContain(page.Descendants(H + "table"), t => (string?)t.Attribute("id") == "runs-table");
    }

    [Fact]
    public async Task Write_LiveWithRuns_RunningRowsArePolledAndFinishedOnesLinkTheirReport()
    {
        await SeedAsync();
        var runs = await _store.ListRunPageAsync(new RunQuery());
        var text = DashboardPageWriter.Write(await SuiteTrends.ReadAuditSuitesAsync(_store, _registry), new DashboardPageOptions
        {
            Runs = runs,
            Live = true,
            PollMilliseconds = 1000,
            ReportHref = id => $"evaluations/{id}/report?format=html",
        });

        var script = text[(text.IndexOf("<script>", StringComparison.Ordinal) + "<script>".Length)..text.IndexOf("</script>", StringComparison.Ordinal)];
        Assert.Contains("fetch(keyed('evaluations/'", script, StringComparison.Ordinal);
        Assert.Contains("get('code')", script, StringComparison.Ordinal);
        var page = XDocument.Parse(text.Replace(script, string.Empty, StringComparison.Ordinal));
        Assert.Equal("1000", page.Descendants(H + "body").Single().Attribute("data-poll-ms")!.Value);
        var rows = page.Descendants(H + "table").Single(t => (string?)t.Attribute("id") == "runs-table").Element(H + "tbody")!.Elements(H + "tr").ToList();
        Assert.Equal(["audit-4", "audit-3", "audit-2", "audit-1"], rows.Select(r => (string?)r.Attribute("data-run")));
        Assert.Equal("true", (string?)rows[0].Attribute("data-live"));
        Assert.Equal("Running", (string?)rows[0].Attribute("data-status"));
        Assert.Equal("1/2", rows[0].Descendants(H + "span").First(s => Classes(s).Contains("progress-text")).Value);
        Assert.Empty(rows[0].Descendants(H + "a"));
        Assert.All(rows.Skip(1), r => Assert.Null(r.Attribute("data-live")));
        Assert.Equal("evaluations/audit-3/report?format=html", rows[1].Descendants(H + "a").Single().Attribute("href")!.Value);
        Assert.Equal("true", (string?)rows[1].Descendants(H + "a").Single().Attribute("data-keyed"));
        Assert.Equal("0.01", rows[1].Elements(H + "td").ElementAt(6).Value);
    }

    private async Task SeedAsync()
    {
        await _registry.RegisterAsync("nightly", new EvaluationRequest
        {
            RunId = "template",
            Suite = new SuiteDefinition { Name = "nightly", Tasks = [new SuiteTask { Id = "en", Prompts = ["one"] }, new SuiteTask { Id = "sw", Prompts = ["moja"] }] },
            Verifier = "v",
            Drafter = "d",
        });
        var reports = new[]
        {
            WithIntervals(TestReports.Report("audit-1", 0.02, ("en", 1.6, 1.5), ("sw", 1.3, 1.2)), (1.4, 1.6), (1.1, 1.3)),
            WithIntervals(TestReports.Report("audit-2", 0.05, ("en", 1.6, 1.45), ("sw", 1.3, 1.0)), (1.4, 1.5), (0.9, 1.1)) with
            {
                Regression = new RegressionReport
                {
                    PreviousRunId = "audit-1",
                    SpeedupBasis = "measured",
                    Regressed = true,
                    Reasons = ["worst-task speed-up fell"],
                    UnfairnessBefore = 0.02,
                    UnfairnessAfter = 0.05,
                    WorstTaskBefore = "sw",
                    WorstTaskAfter = "sw",
                    WorstSpeedupBefore = 1.2,
                    WorstSpeedupAfter = 1.0,
                    Tasks = [],
                    Thresholds = new RegressionThresholdsReport { UnfairnessIncrease = 0.01, WorstSpeedupDrop = 0.05 },
                },
            },
            WithIntervals(TestReports.Report("audit-3", 0.01, ("en", 1.6, 1.5), ("sw", 1.5, 1.4)), (1.45, 1.55), null) with
            {
                Mitigation = new MitigationReport
                {
                    Strategy = "s-cdf",
                    UnfairnessBefore = 0.05,
                    UnfairnessAfter = 0.01,
                    MeanSpeedupBefore = 1.2,
                    MeanSpeedupAfter = 1.45,
                    Promoted = true,
                },
            },
        };
        for (var i = 0; i < reports.Length; i++)
        {
            await CreateRunAsync(reports[i].RunId, "nightly", i + 1);
            await ReportPublisher.PublishAsync(_store, reports[i] with { GeneratedAt = At(i + 1) });
            await _registry.RecordRunAsync("nightly", reports[i].RunId);
        }

        await CreateRunAsync("audit-4", "nightly", 4, running: true);
        await _registry.RecordRunAsync("nightly", "audit-4");
    }

    private async Task CreateRunAsync(string runId, string suite, int hour, bool running = false)
    {
        await _store.CreateRunAsync(new RunManifest
        {
            RunId = runId,
            CreatedAt = At(hour),
            Submission = new System.Text.Json.Nodes.JsonObject { ["suite"] = new System.Text.Json.Nodes.JsonObject { ["name"] = suite } },
            Drafter = new ModelIdentity { Name = "d", Sha256 = ContentKey.Sha256Hex("d") },
            Verifier = new ModelIdentity { Name = "v", Sha256 = ContentKey.Sha256Hex("v") },
            Settings = new RunSettings { Gamma = 4, MaxNewTokens = 8 },
            Tasks = new SortedDictionary<string, TaskEntry>(StringComparer.Ordinal)
            {
                ["en"] = new() { TaskId = "en", Status = TaskState.Committed },
                ["sw"] = new() { TaskId = "sw", Status = running ? TaskState.Running : TaskState.Committed },
            },
        });

        // created.json's time orders the listing (whole seconds on some stores): keep the runs apart.
        await Task.Delay(20);
    }

    private static EvaluationReport WithIntervals(EvaluationReport report, (double, double)? en, (double, double)? sw) => report with
    {
        Tasks = [.. report.Tasks.Select(t => (t.TaskId == "en" ? en : sw) is var (lo, hi) ? t with { MeasuredSpeedupCi = new IntervalReport { Lower = lo, Upper = hi } } : t)],
    };

    private static DateTimeOffset At(int hour) => new(2026, 11, 20 + hour, 2, 0, 0, TimeSpan.Zero);

    private static XElement Svg(XElement section, string kind) => section.Descendants(S + "svg").Single(e => Classes(e).Contains(kind));

    private static List<string> Values(XElement svg, string series) => [.. svg.Descendants(S + "circle")
        .Where(c => (string?)c.Attribute("data-series") == series)
        .Select(c => c.Attribute("data-value")!.Value)];

    private static List<string> Markers(XElement svg, string kind) => [.. svg.Descendants(S + "line")
        .Where(l => Classes(l).Contains("marker") && Classes(l).Contains(kind))
        .Select(l => l.Attribute("data-run")!.Value)];

    private static XElement Cell(XElement row, string series) => row.Elements(H + "td").Single(c => (string?)c.Attribute("data-series") == series);

    private static string[] Classes(XElement element) => ((string?)element.Attribute("class") ?? string.Empty).Split(' ');
}
