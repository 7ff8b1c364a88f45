using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Functions.Http;

/// <summary>
/// <c>GET /api/dashboard[?page=&amp;pageSize=&amp;pollSeconds=]</c>: the audits dashboard, one self-contained HTML page
/// (<see cref="DashboardPageWriter"/>): a page of the runs (<see cref="RunListing"/>, newest first, linking each
/// finished run's report route), live progress of the running ones (the page's script polls the status route with the
/// function key it was opened with), and per audit suite the trend of U and of each task's measured speed-up
/// (<see cref="SuiteTrends"/>) with regression and promotion markers.
/// </summary>
public sealed class DashboardApi(ITraceStore store, SuiteRegistry registry)
{
    /// <summary>Default seconds between two polls of a running run.</summary>
    public const int DefaultPollSeconds = 5;

    /// <summary>Largest <c>pollSeconds</c>.</summary>
    public const int MaxPollSeconds = 300;

    [Function(nameof(GetDashboard))]
    public async Task<IActionResult> GetDashboard(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "dashboard")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        var errors = new List<ValidationError>();
        var query = new RunQuery
        {
            Page = HttpInput.QueryInteger(request, "page", 1, errors),
            PageSize = HttpInput.QueryInteger(request, "pageSize", RunListing.DefaultPageSize, errors),
        };
        var poll = HttpInput.QueryInteger(request, "pollSeconds", DefaultPollSeconds, errors);
        if (!errors.Any(e => e.Field == "pollSeconds") && poll is < 1 or > MaxPollSeconds)
        {
            errors.Add(new ValidationError("pollSeconds", $"must be in 1..{MaxPollSeconds}, got {poll}"));
        }

        if (errors.Count == 0)
        {
            errors.AddRange(RunListing.Validate(query).Select(p => new ValidationError(p.Field, p.Message)));
        }

        if (errors.Count > 0)
        {
            return Problems.BadRequest(request, errors);
        }

        var runs = store.ListRunPageAsync(query, cancellationToken);
        var trends = SuiteTrends.ReadAuditSuitesAsync(store, registry, cancellationToken);
        var page = DashboardPageWriter.Write(await trends, new DashboardPageOptions
        {
            Runs = await runs,
            Live = true,
            PollMilliseconds = poll * 1000,
            // Relative to /api/dashboard: the report route of the same app.
            ReportHref = runId => $"evaluations/{Uri.EscapeDataString(runId)}/report?format=html",
        });
        return new TextApiResult(page, "text/html; charset=utf-8");
    }
}
