using System.Globalization;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Telemetry;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Audit;

/// <summary>What one audit pass did for one suite.</summary>
public sealed record SuiteAuditResult(string Suite, string? ComparedRunId, RegressionReport? Regression, string? ScheduledRunId);

/// <summary>
/// Nightly audit (<c>%AUDIT_SCHEDULE%</c>): for every registered suite, compares its latest run with the one before
/// (once the latest has a report; a run still evaluating is compared at the next audit) and writes the result into
/// the latest report's <c>regression</c> section, then starts a fresh run of the suite.
/// </summary>
public sealed class NightlyAudit(
    SuiteRegistry registry, ITraceStore store, IOptions<RegressionThresholds> thresholds, TimeProvider time, ILogger<NightlyAudit> logger)
{
    /// <summary>Timer entry point.</summary>
    [Function(nameof(NightlyAudit))]
    public async Task Run(
        [TimerTrigger("%AUDIT_SCHEDULE%")] TimerInfo timer,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(timer);
        await AuditAsync(client, cancellationToken);
    }

    /// <summary>Audits every registered suite; one suite's failure is logged and does not stop the others.</summary>
    public async Task<IReadOnlyList<SuiteAuditResult>> AuditAsync(DurableTaskClient client, CancellationToken cancellationToken)
    {
        var suites = await registry.ListAsync(cancellationToken);
        logger.AuditStarted(suites.Count);
        var results = new List<SuiteAuditResult>(suites.Count);
        foreach (var suite in suites)
        {
            try
            {
                results.Add(await AuditSuiteAsync(client, suite, cancellationToken));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.AuditSuiteFailed(ex, suite.Name);
                results.Add(new SuiteAuditResult(suite.Name, null, null, null));
            }
        }

        return results;
    }

    private async Task<SuiteAuditResult> AuditSuiteAsync(DurableTaskClient client, RegisteredSuite suite, CancellationToken cancellationToken)
    {
        var (comparedRunId, regression) = await CompareLatestAsync(suite, cancellationToken);

        var runId = AuditRunId(suite.Name, time.GetUtcNow());
        if (await client.GetInstanceAsync(runId, false, cancellationToken) is null)
        {
            // Measured afresh: an audit that reused another run's traces would compare a run's timings with themselves.
            var request = suite.Request with { RunId = runId, MeasureAfresh = true };
            await client.ScheduleNewOrchestrationInstanceAsync(
                new TaskName(DurableNames.EvaluateSuite), request, new StartOrchestrationOptions { InstanceId = runId }, cancellationToken);
            SpecFunctionsTelemetry.EvaluationsStarted.Add(1, new KeyValuePair<string, object?>("source", "audit"));
        }

        // Recorded even when the instance already existed (a timer retry): the registry must know the run either way.
        await registry.RecordRunAsync(suite.Name, runId, cancellationToken);
        logger.AuditRunScheduled(suite.Name, runId);
        return new SuiteAuditResult(suite.Name, comparedRunId, regression, runId);
    }

    /// <summary>Compares the suite's latest run that has no regression section yet with the latest earlier run that has a report.</summary>
    private async Task<(string? RunId, RegressionReport? Regression)> CompareLatestAsync(RegisteredSuite suite, CancellationToken cancellationToken)
    {
        if (suite.Runs.Count < 2)
        {
            return (null, null);
        }

        var latestId = suite.Runs[^1];
        var latest = await ReportPublisher.ReadAsync(store, latestId, cancellationToken);
        if (latest is null || latest.Regression is not null || latest.Tasks.Count == 0)
        {
            return (null, null);
        }

        for (var i = suite.Runs.Count - 2; i >= 0; i--)
        {
            var previous = await ReportPublisher.ReadAsync(store, suite.Runs[i], cancellationToken);
            if (previous is null || previous.Tasks.Count == 0)
            {
                continue;
            }

            var regression = RegressionComparer.Compare(previous, latest, thresholds.Value);
            await ReportPublisher.PublishAsync(store, latest with { Regression = regression }, cancellationToken);
            if (regression.Regressed)
            {
                SpecFunctionsTelemetry.Regressions.Add(1, new KeyValuePair<string, object?>("suite", suite.Name));
                logger.RegressionFound(suite.Name, latestId, previous.RunId, string.Join("; ", regression.Reasons));
            }
            else
            {
                logger.NoRegression(suite.Name, latestId, previous.RunId);
            }

            return (latestId, regression);
        }

        return (null, null);
    }

    /// <summary><c>audit-{suite}-{yyyyMMdd}t{HHmmss}</c> (UTC): unique per suite and second, within the 64-character id limit.</summary>
    public static string AuditRunId(string suite, DateTimeOffset now) =>
        $"audit-{suite}-{now.UtcDateTime.ToString("yyyyMMdd't'HHmmss", CultureInfo.InvariantCulture)}";
}
