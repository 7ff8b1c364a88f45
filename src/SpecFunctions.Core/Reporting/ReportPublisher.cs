using System.Text;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Reporting;

/// <summary>Writes and reads the report artifacts of a run (<c>report.json</c>, <c>report.html</c>, <c>tasks.csv</c>).</summary>
public static class ReportPublisher
{
    /// <summary>Writes all three artifacts of <paramref name="report"/> into its run.</summary>
    public static async Task PublishAsync(ITraceStore store, EvaluationReport report, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(report);
        await store.WriteArtifactAsync(report.RunId, RunArtifact.ReportJson, async (stream, ct) =>
        {
            var bytes = Encoding.UTF8.GetBytes(report.ToJson());
            await stream.WriteAsync(bytes, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        await store.WriteArtifactAsync(report.RunId, RunArtifact.ReportHtml, (s, ct) => HtmlReportWriter.WriteAsync(report, s, ct), cancellationToken)
            .ConfigureAwait(false);
        await store.WriteArtifactAsync(report.RunId, RunArtifact.TasksCsv, (s, ct) => TasksCsvWriter.WriteAsync(report, s, ct), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>The stored <c>report.json</c> of a run; null when it was never published.</summary>
    public static async Task<EvaluationReport?> ReadAsync(ITraceStore store, string runId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var stream = await store.OpenArtifactAsync(runId, RunArtifact.ReportJson, cancellationToken).ConfigureAwait(false);
        if (stream is null)
        {
            return null;
        }

        await using (stream.ConfigureAwait(false))
        {
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return EvaluationReport.FromJson(await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false));
        }
    }

    /// <summary>
    /// The run's report: the stored one when present (it may carry mitigation and decision results that traces alone
    /// cannot rebuild), else computed from the traces and published.
    /// </summary>
    public static async Task<EvaluationReport> GetOrBuildAsync(
        ITraceStore store, string runId, SuiteAnalysisOptions? options = null, bool recompute = false, CancellationToken cancellationToken = default)
    {
        var stored = await ReadAsync(store, runId, cancellationToken).ConfigureAwait(false);
        if (!recompute && stored is not null)
        {
            return stored;
        }

        // Mitigation and decision results come from later stages, not from the traces: keep them.
        var report = await ReportBuilder.BuildAsync(store, runId, options, cancellationToken).ConfigureAwait(false) with
        {
            Mitigation = stored?.Mitigation,
            Decision = stored?.Decision,
            Regression = stored?.Regression,
        };
        await PublishAsync(store, report, cancellationToken).ConfigureAwait(false);
        return report;
    }
}
