using System.Text.Json;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Reporting;

/// <summary>One task's measured speed-up in one audit.</summary>
/// <param name="TaskId">The task.</param>
/// <param name="Speedup">Measured speed-up (baseline time per token / speculative); null when the run timed no baseline for it.</param>
/// <param name="Lower">Lower end of its bootstrap interval; null without one.</param>
/// <param name="Upper">Upper end of its bootstrap interval; null without one.</param>
public sealed record TrendTaskPoint(string TaskId, double? Speedup, double? Lower, double? Upper);

/// <summary>One audit (a run with a report) of a suite's history.</summary>
public sealed record TrendPoint
{
    public required string RunId { get; init; }

    /// <summary>When the report was generated.</summary>
    public DateTimeOffset GeneratedAt { get; init; }

    /// <summary>U, nats² (NaN when the report has none).</summary>
    public required double Unfairness { get; init; }

    /// <summary>Every task of the report, in task-id order.</summary>
    public required IReadOnlyList<TrendTaskPoint> Tasks { get; init; }

    /// <summary>The nightly audit's regression check fired on this run (its report's <c>regression.regressed</c>).</summary>
    public bool Regressed { get; init; }

    /// <summary>Why it fired (one sentence per threshold passed); empty otherwise.</summary>
    public IReadOnlyList<string> RegressionReasons { get; init; } = [];

    /// <summary>A mitigation of this run was promoted (its drafter became the served one).</summary>
    public bool Promoted { get; init; }

    /// <summary>The promoted mitigation's strategy; null when none was promoted.</summary>
    public string? PromotedStrategy { get; init; }
}

/// <summary>The history of one suite's audits, oldest first.</summary>
public sealed record SuiteTrend
{
    public required string Suite { get; init; }

    /// <summary>Runs with a report, oldest first.</summary>
    public required IReadOnlyList<TrendPoint> Points { get; init; }

    /// <summary>Every task id seen in <see cref="Points"/>, ordinal order.</summary>
    public IReadOnlyList<string> TaskIds => [.. Points.SelectMany(p => p.Tasks).Select(t => t.TaskId).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>Runs of the history without a readable report yet (still running, failed, or damaged), oldest first.</summary>
    public IReadOnlyList<string> RunsWithoutReport { get; init; } = [];
}

/// <summary>
/// The trend of U and of each task's measured speed-up over a suite's audits (<c>GET /api/dashboard</c>,
/// <c>specfn trend</c>): read from the reports in the store, nothing recomputed, so every point equals its run's report.
/// </summary>
public static class SuiteTrends
{
    /// <summary>Largest number of runs a trend reads (the newest ones).</summary>
    public const int MaxRuns = SuiteRegistry.MaxRunsKept;

    /// <summary>The trend of a list of reports, ordered by generation time (then run id).</summary>
    public static SuiteTrend FromReports(string suite, IEnumerable<EvaluationReport> reports, IReadOnlyList<string>? runsWithoutReport = null)
    {
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentNullException.ThrowIfNull(reports);
        var points = reports
            .OrderBy(r => r.GeneratedAt)
            .ThenBy(r => r.RunId, StringComparer.Ordinal)
            .Select(ToPoint)
            .ToList();
        return new SuiteTrend { Suite = suite, Points = points, RunsWithoutReport = runsWithoutReport ?? [] };
    }

    /// <summary>One report as a point of the trend.</summary>
    public static TrendPoint ToPoint(EvaluationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var promoted = report.Mitigation is { Promoted: true };
        return new TrendPoint
        {
            RunId = report.RunId,
            GeneratedAt = report.GeneratedAt,
            Unfairness = report.Suite.Fairness.Unfairness,
            Tasks = [.. report.Tasks
                .OrderBy(t => t.TaskId, StringComparer.Ordinal)
                .Select(t => new TrendTaskPoint(t.TaskId, t.MeasuredSpeedup, t.MeasuredSpeedupCi?.Lower, t.MeasuredSpeedupCi?.Upper))],
            Regressed = report.Regression is { Regressed: true },
            RegressionReasons = report.Regression is { Regressed: true } regression ? regression.Reasons : [],
            Promoted = promoted,
            PromotedStrategy = promoted ? report.Mitigation!.Strategy : null,
        };
    }

    /// <summary>The trend of every suite the nightly audit re-runs (registry order: by name), from its recorded runs.</summary>
    public static async Task<IReadOnlyList<SuiteTrend>> ReadAuditSuitesAsync(
        ITraceStore store, SuiteRegistry registry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(registry);
        var trends = new List<SuiteTrend>();
        foreach (var suite in await registry.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            trends.Add(await ReadRunsAsync(store, suite.Name, suite.Runs, cancellationToken).ConfigureAwait(false));
        }

        return trends;
    }

    /// <summary>
    /// The trend of <paramref name="suite"/>: the runs the audit registry recorded for it when it is registered, else the
    /// stored runs whose submission names that suite (the CLI's runs), at most the newest <see cref="MaxRuns"/>.
    /// Null when neither has any run.
    /// </summary>
    public static async Task<SuiteTrend?> ReadSuiteAsync(
        ITraceStore store, SuiteRegistry registry, string suite, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentException.ThrowIfNullOrEmpty(suite);
        var registered = (await registry.ListAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(s => s.Name == suite);
        if (registered is { Runs.Count: > 0 })
        {
            return await ReadRunsAsync(store, suite, registered.Runs, cancellationToken).ConfigureAwait(false);
        }

        var newestFirst = new List<string>();
        for (var page = 1; newestFirst.Count < MaxRuns; page++)
        {
            var listed = await store.ListRunPageAsync(
                new RunQuery { Suite = suite, Page = page, PageSize = RunListing.MaxPageSize }, cancellationToken).ConfigureAwait(false);
            newestFirst.AddRange(listed.Runs.Select(r => r.RunId));
            if (!listed.HasMore)
            {
                break;
            }
        }

        if (newestFirst.Count == 0)
        {
            return null;
        }

        return await ReadRunsAsync(store, suite, [.. newestFirst.Take(MaxRuns).Reverse()], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The trend of the given runs (oldest first); the newest <see cref="MaxRuns"/> are read.</summary>
    public static async Task<SuiteTrend> ReadRunsAsync(
        ITraceStore store, string suite, IReadOnlyList<string> runIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(runIds);
        var reads = runIds.TakeLast(MaxRuns).Select(async id => (Id: id, Report: await TryReadAsync(store, id, cancellationToken).ConfigureAwait(false)));
        var results = await Task.WhenAll(reads).ConfigureAwait(false);
        var reports = results.Where(r => r.Report is { Tasks.Count: > 0 }).Select(r => r.Report!).ToList();
        var without = results.Where(r => r.Report is not { Tasks.Count: > 0 }).Select(r => r.Id).ToList();
        return FromReports(suite, reports, without);
    }

    private static async Task<EvaluationReport?> TryReadAsync(ITraceStore store, string runId, CancellationToken cancellationToken)
    {
        try
        {
            return await ReportPublisher.ReadAsync(store, runId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            // A damaged report leaves a gap in the trend, listed as a run without report, not a broken page.
            return null;
        }
    }
}
