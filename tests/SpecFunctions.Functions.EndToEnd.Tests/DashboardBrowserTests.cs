using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using Microsoft.Playwright;
using Xunit.Abstractions;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Functions.EndToEnd.Tests;

/// <summary>
/// The dashboard (<c>GET /api/dashboard</c>) served by the real Functions host over Azurite, opened in headless Chromium
/// (Debian's <c>chromium</c>, named by <c>SPECFN_BROWSER</c>, driven by Playwright's .NET driver; no browser download)
/// at a phone's width: a registered audit suite audited a few times by the nightly audit and one long run still
/// evaluating. Checks the runs table, the live progress changing as the page polls the status route with the key it
/// was opened with, the trend points equal to the reports the API serves, no page wider than the phone, and no console
/// errors. With <c>SPECFN_DASHBOARD_SCREENSHOT=FILE.png</c> it also saves a screenshot of the page (docs/dashboard.png).
/// </summary>
[Collection(FunctionsAppCollection.Name)]
[Trait("Requires", "browser")]
public sealed class DashboardBrowserTests(FunctionsAppFixture app, ITestOutputHelper output)
{
    /// <summary>Path of the Chromium executable.</summary>
    public const string BrowserVariable = "SPECFN_BROWSER";

    /// <summary>Where to save a screenshot of the dashboard (optional).</summary>
    public const string ScreenshotVariable = "SPECFN_DASHBOARD_SCREENSHOT";

    private const int PhoneWidth = 390;

    [Fact]
    public async Task Dashboard_AuditsAndARunningRun_RunsTableLiveProgressTrendMatchingTheReports_NoConsoleErrors()
    {
        var chromium = Environment.GetEnvironmentVariable(BrowserVariable);
        Assert.False(string.IsNullOrEmpty(chromium), $"{BrowserVariable} is not set: these tests need a Chromium executable (run with --filter \"Requires!=browser\" without one).");
        const string suite = "e2e-dashboard";
        const string liveRun = "e2e-dashboard-live";
        var clock = Stopwatch.StartNew();
        try
        {
            // A few audits of a small suite: the nightly audit (every 10 s here) runs it and compares each with the previous.
            var body = EndToEndTests.Submission("e2e-dashboard-template", 2, 2, 16, suite: "dashboard-suite");
            var registered = await app.Http.PutAsync($"audit/suites/{suite}", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, registered.StatusCode);
            var audited = await WaitForAuditReportsAsync(suite, 3, TimeSpan.FromMinutes(4));
            output.WriteLine($"{audited.Count} audits with a report after {clock.Elapsed.TotalSeconds:F1} s");

            // One long run, evaluating while the page is open: its progress must change on the page without a reload.
            var live = EndToEndTests.Submission(liveRun, 4, 24, 128, suite: "dashboard-live");
            Assert.Equal(HttpStatusCode.Accepted, (await app.Http.PostAsync("evaluations", new StringContent(live, Encoding.UTF8, "application/json"))).StatusCode);
            await app.PollAsync($"evaluations/{liveRun}", s => s.GetProperty("runtimeStatus").GetString() == "Running"
                && s.TryGetProperty("progress", out var p) && p.ValueKind == JsonValueKind.Object, TimeSpan.FromMinutes(1));
            Assert.NotNull(await app.Store.GetManifestAsync(liveRun));

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = chromium,
                Headless = true,
                // Root in CI containers: Chromium's sandbox needs user namespaces it does not get there.
                Args = ["--no-sandbox"],
            });
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = PhoneWidth, Height = 844 } });
            var errors = new List<string>();
            page.Console += (_, message) =>
            {
                if (message.Type == "error")
                {
                    errors.Add($"{message.Text} ({message.Location})");
                }
            };
            page.PageError += (_, error) => errors.Add(error);

            // The key travels as ?code= (docs/functions.md); the page carries it on its own fetches.
            var url = $"{app.Http.BaseAddress}dashboard?code={FunctionsAppFixture.MasterKey}&pollSeconds=1";
            var response = await page.GotoAsync(url);
            Assert.NotNull(response);
            Assert.Equal(200, response.Status);
            Assert.StartsWith("text/html", response.Headers["content-type"], StringComparison.Ordinal);

            // Runs table: the live run is polled; the audits are completed and link their report route.
            var liveRow = page.Locator($"#runs-table tr[data-run='{liveRun}']");
            Assert.Equal("true", await liveRow.GetAttributeAsync("data-live"));
            Assert.Equal("Running", await liveRow.GetAttributeAsync("data-status"));
            var first = await liveRow.Locator(".progress-text").TextContentAsync();
            var auditRow = page.Locator($"#runs-table tr[data-run='{audited[0]}']");
            Assert.Equal("Completed", await auditRow.GetAttributeAsync("data-status"));
            var href = await auditRow.Locator("a").GetAttributeAsync("href");
            Assert.Equal($"evaluations/{audited[0]}/report?format=html&code={FunctionsAppFixture.MasterKey}", href);

            // Live progress: the page's own polling (not a reload) shows more tasks done.
            clock.Restart();
            await page.WaitForFunctionAsync(
                "([run, before]) => { const row = document.querySelector(`#runs-table tr[data-run='${run}']`); const text = row.querySelector('.progress-text').textContent; return Number(text.split('/')[0]) > Number(before.split('/')[0]) && Number(row.getAttribute('data-polls')) > 0; }",
                new object[] { liveRun, first! },
                new PageWaitForFunctionOptions { Timeout = (float)TimeSpan.FromMinutes(4).TotalMilliseconds, PollingInterval = 250 });
            var later = await liveRow.Locator(".progress-text").TextContentAsync();
            output.WriteLine($"live progress {first} → {later} after {clock.Elapsed.TotalSeconds:F1} s");
            Assert.True(Done(first!) < Done(later!), $"{first} → {later}");
            Assert.Equal(Total(first!), Total(later!));
            Assert.Equal(4, Total(later!));

            // Trend: every point of the suite equals its run's report as the API serves it; markers only where the check fired.
            var section = page.Locator($"section.suite-trend[data-suite='{suite}']");
            var uPoints = await Points(section, "svg.trend-u");
            var speedupPoints = await Points(section, "svg.trend-speedup");
            Assert.True(uPoints.Count >= 3, string.Join(", ", uPoints));
            var markers = await section.Locator("svg.trend-u line.marker.regression").EvaluateAllAsync<string[]>("els => els.map(e => e.getAttribute('data-run'))");
            foreach (var run in uPoints.Select(p => p.Run).Distinct())
            {
                var report = await app.Http.GetFromJsonAsync<JsonElement>($"evaluations/{run}/report");
                var fairness = report.GetProperty("suite").GetProperty("fairness");
                Assert.Equal(fairness.GetProperty("unfairness").GetDouble(), uPoints.Single(p => p.Run == run).Value);
                foreach (var task in report.GetProperty("tasks").EnumerateArray())
                {
                    var expected = task.GetProperty("measuredSpeedup");
                    var drawn = speedupPoints.Where(p => p.Run == run && p.Series == task.GetProperty("taskId").GetString()).ToList();
                    if (expected.ValueKind == JsonValueKind.Number)
                    {
                        Assert.Equal(expected.GetDouble(), Assert.Single(drawn).Value);
                    }
                    else
                    {
                        Assert.Empty(drawn);
                    }
                }

                if (markers.Contains(run))
                {
                    Assert.True(report.GetProperty("regression").GetProperty("regressed").GetBoolean(), $"marker on {run} without a regression");
                }
            }

            Assert.Equal(uPoints.Count, await section.Locator("table.trend-table tbody tr").CountAsync());

            // Readable at a phone's width: nothing wider than the viewport (wide tables scroll inside their box).
            var width = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
            Assert.True(width <= PhoneWidth, $"page is {width} px wide at a {PhoneWidth} px viewport");

            if (Environment.GetEnvironmentVariable(ScreenshotVariable) is { Length: > 0 } screenshot)
            {
                await page.SetViewportSizeAsync(1000, 900);
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
                output.WriteLine($"screenshot: {screenshot}");
            }

            // No console errors on the dashboard, polls and all.
            Assert.Empty(errors);

            // A report link opens the run's HTML report with the same key (the report page's own favicon request is not ours).
            var report0 = await page.GotoAsync(new Uri(new Uri(url), href).AbsoluteUri);
            Assert.Equal(200, report0!.Status);
            Assert.Contains(audited[0], await page.TitleAsync(), StringComparison.Ordinal);
        }
        finally
        {
            // Stop further audits and the long run for the tests that follow.
            await new BlobContainerClient(app.ConnectionString, TraceStoreLayout.DefaultContainerName).DeleteBlobIfExistsAsync(TraceStoreLayout.SuiteRegistry);
            await app.Http.PostAsync($"evaluations/{liveRun}/cancel", null);
        }
    }

    /// <summary>Waits until the suite's first <paramref name="count"/> audit runs have a report; returns their ids, oldest first.</summary>
    private async Task<List<string>> WaitForAuditReportsAsync(string suite, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var listed = await app.Http.GetFromJsonAsync<JsonElement>("audit/suites");
            var runs = listed.GetProperty("suites").EnumerateArray().Where(s => s.GetProperty("name").GetString() == suite)
                .SelectMany(s => s.GetProperty("runs").EnumerateArray().Select(r => r.GetString()!)).ToList();
            var reported = new List<string>();
            foreach (var run in runs.Take(count))
            {
                if ((await app.Http.GetAsync($"evaluations/{run}/report")).StatusCode == HttpStatusCode.OK)
                {
                    reported.Add(run);
                }
            }

            if (reported.Count == count)
            {
                return reported;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{suite}: {reported.Count} of {count} audits reported in {timeout.TotalSeconds:F0} s\n{app.Host.Tail()}");
            await Task.Delay(1000);
        }
    }

    private static async Task<List<(string Run, string Series, double Value)>> Points(ILocator section, string chart)
    {
        var raw = await section.Locator($"{chart} circle.point").EvaluateAllAsync<string[][]>(
            "els => els.map(e => [e.getAttribute('data-run'), e.getAttribute('data-series'), e.getAttribute('data-value')])");
        return [.. raw.Select(p => (p[0], p[1], double.Parse(p[2], CultureInfo.InvariantCulture)))];
    }

    private static int Done(string progress) => int.Parse(progress.Split('/')[0], CultureInfo.InvariantCulture);

    private static int Total(string progress) => int.Parse(progress.Split('/')[1], CultureInfo.InvariantCulture);
}
