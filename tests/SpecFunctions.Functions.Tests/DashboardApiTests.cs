using System.Xml.Linq;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Functions.Http;
using SpecFunctions.TestKit;

namespace SpecFunctions.Functions.Tests;

/// <summary><c>GET /api/dashboard</c> on a real local store: the runs table, the audit suite's trend from its reports, the poll interval, and 400s.</summary>
public sealed class DashboardApiTests : IDisposable
{
    private static readonly XNamespace H = "http://www.w3.org/1999/xhtml";
    private static readonly XNamespace S = "http://www.w3.org/2000/svg";

    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    private DashboardApi Api() => new(_store.Store, new SuiteRegistry(_store.Objects));

    private async Task<TestResponse> GetAsync(string? query)
    {
        var request = TestHttp.Request("GET", "/api/dashboard", query: query);
        return await (await Api().GetDashboard(request, CancellationToken.None)).ExecuteAsync(request);
    }

    [Fact]
    public async Task GetDashboard_AuditSuiteWithTwoReportsAndARunningRun_RunsTableAndTrendFromTheReports()
    {
        await SeedAsync();

        var response = await GetAsync("?pollSeconds=2");

        Assert.Equal(200, response.Status);
        Assert.Equal("text/html; charset=utf-8", response.ContentType);
        var page = Parse(response.Text);
        Assert.Equal("2000", page.Descendants(H + "body").Single().Attribute("data-poll-ms")!.Value);
        var rows = page.Descendants(H + "table").Single(t => (string?)t.Attribute("id") == "runs-table").Element(H + "tbody")!.Elements(H + "tr").ToList();
        Assert.Equal(["audit-3", "audit-2", "audit-1"], rows.Select(r => (string?)r.Attribute("data-run")));
        Assert.Equal(["true", null, null], rows.Select(r => (string?)r.Attribute("data-live")));
        Assert.Equal("evaluations/audit-2/report?format=html", rows[1].Descendants(H + "a").Single().Attribute("href")!.Value);

        var section = page.Descendants(H + "section").Single(s => (string?)s.Attribute("data-suite") == "nightly");
        var points = section.Descendants(S + "circle").Select(c => $"{c.Attribute("data-series")!.Value}@{c.Attribute("data-run")!.Value}={c.Attribute("data-value")!.Value}");
        Assert.Equal(["U@audit-1=0.02", "U@audit-2=0.04", "sw@audit-1=1.1", "sw@audit-2=0.9"], points);
        Assert.Equal(["audit-2", "audit-2"], section.Descendants(S + "line")
            .Where(l => ((string?)l.Attribute("class"))?.Contains("regression", StringComparison.Ordinal) == true)
            .Select(l => l.Attribute("data-run")!.Value));
        Assert.Contains("1 without one yet", section.Element(H + "p")!.Value, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetDashboard_EmptyStore_SaysThereIsNothingYetWithTheDefaultPoll()
    {
        var page = Parse((await GetAsync(null)).Text);

        Assert.Equal("5000", page.Descendants(H + "body").Single().Attribute("data-poll-ms")!.Value);
        Assert.Contains(page.Descendants(H + "p"), p => p.Value == "No runs in the store yet.");
        Assert.DoesNotContain(page.Descendants(H + "section"), s => s.Attribute("data-suite") is not null);
    }

    [Theory]
    [InlineData("?pollSeconds=0", "pollSeconds", "must be in 1..300, got 0")]
    [InlineData("?pollSeconds=301", "pollSeconds", "must be in 1..300, got 301")]
    [InlineData("?pollSeconds=fast", "pollSeconds", "must be one whole number, got 'fast'")]
    [InlineData("?pageSize=101", "pageSize", "must be in 1..100, got 101")]
    [InlineData("?page=0", "page", "must be 1 or more, got 0")]
    public async Task GetDashboard_BadQuery_400ProblemNamingTheField(string query, string field, string problem)
    {
        var response = await GetAsync(query);

        Assert.Equal(400, response.Status);
        Assert.StartsWith("application/problem+json", response.ContentType, StringComparison.Ordinal);
        var errors = response.Json.GetProperty("errors");
        Assert.Equal([field], errors.EnumerateObject().Select(p => p.Name));
        Assert.Equal(problem, errors.GetProperty(field)[0].GetString());
        Assert.Empty(_store.Files);
    }

    /// <summary>The page without its script (JavaScript is not XML), as XML.</summary>
    private static XDocument Parse(string html)
    {
        var start = html.IndexOf("<script>", StringComparison.Ordinal);
        return XDocument.Parse(start < 0 ? html : html[..(start + "<script>".Length)] + html[html.IndexOf("</script>", StringComparison.Ordinal)..]);
    }

    private async Task SeedAsync()
    {
        var registry = new SuiteRegistry(_store.Objects);
        await registry.RegisterAsync("nightly", new EvaluationRequest
        {
            RunId = "template",
            Suite = new SuiteDefinition { Name = "nightly", Tasks = [new SuiteTask { Id = "sw", Prompts = ["moja"] }] },
            Verifier = "v",
            Drafter = "d",
        });
        foreach (var (id, hour, u, speedup, regressed) in new[] { ("audit-1", 1, 0.02, 1.1, false), ("audit-2", 2, 0.04, 0.9, true), ("audit-3", 3, 0.0, 0.0, false) })
        {
            var report = id != "audit-3";
            await StoredRuns.AddAsync(
                _store.Store,
                StoredRuns.Manifest(id, "nightly", new DateTimeOffset(2026, 11, 20 + hour, 2, 0, 0, TimeSpan.Zero), ("sw", report ? TaskState.Committed : TaskState.Running)),
                report ? Report(id, hour, u, speedup, regressed) : null);
            await registry.RecordRunAsync("nightly", id);
            await Task.Delay(20);
        }
    }

    private static EvaluationReport Report(string runId, int hour, double unfairness, double measured, bool regressed) =>
        StoredRuns.Report(runId, new DateTimeOffset(2026, 11, 20 + hour, 3, 0, 0, TimeSpan.Zero), "sw", unfairness, measured) with
        {
            Regression = regressed
                ? new RegressionReport
                {
                    PreviousRunId = "audit-1", SpeedupBasis = "measured", Regressed = true, Reasons = ["U rose"], UnfairnessBefore = 0.02, UnfairnessAfter = 0.04,
                    WorstTaskBefore = "sw", WorstTaskAfter = "sw", WorstSpeedupBefore = 1.1, WorstSpeedupAfter = 0.9, Tasks = [],
                    Thresholds = new RegressionThresholdsReport { UnfairnessIncrease = 0.01, WorstSpeedupDrop = 0.05 },
                }
                : null,
        };
}
