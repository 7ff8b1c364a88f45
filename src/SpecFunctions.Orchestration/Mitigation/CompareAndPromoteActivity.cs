using System.Text.Json;
using Microsoft.DurableTask;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>
/// Builds the before/after report, applies the promotion rule (a paired bootstrap over both runs' per-prompt statistics)
/// and records the suite's current drafter.
/// </summary>
public sealed class CompareAndPromoteActivity(ITraceStore store, IOptions<EvaluationOptions> options) : TaskActivity<CompareInput, MitigationOutcome>
{
    public override async Task<MitigationOutcome> RunAsync(TaskActivityContext context, CompareInput input)
    {
        var request = input.Request;
        var before = await ReportPublisher.ReadAsync(store, request.RunId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"run '{request.RunId}' has no report");
        var after = await ReportPublisher.ReadAsync(store, input.AfterRunId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"re-evaluation '{input.AfterRunId}' has no report");

        var (report, promoted, reason) = PromotionRule.Compare(
            new RunStatistics(before, await ReportBuilder.ReadPromptStatisticsAsync(store, request.RunId).ConfigureAwait(false)),
            new RunStatistics(after, await ReportBuilder.ReadPromptStatisticsAsync(store, input.AfterRunId).ConfigureAwait(false)),
            request.Strategy,
            input.Drafter.Identity,
            [.. PlanMitigationActivity.Data(request).Select(d => d with { DevAlpha = input.DevAlpha?.GetValueOrDefault(d.TaskId) })],
            new PromotionSettings { SpeedupMargin = request.SpeedupMargin, Resamples = options.Value.BootstrapResamples });
        await ReportPublisher.PublishAsync(store, before with { Mitigation = report }).ConfigureAwait(false);
        await ReportPublisher.PublishAsync(store, after with { Mitigation = report }).ConfigureAwait(false);
        if (promoted)
        {
            await store.WriteArtifactAsync(request.RunId, RunArtifact.PromotedDrafter, async (stream, ct) =>
                await JsonSerializer.SerializeAsync(stream, input.Drafter.Identity, EvaluationDefaults.Json, ct).ConfigureAwait(false)).ConfigureAwait(false);
        }

        return new MitigationOutcome { Status = promoted ? MitigationStatus.Promoted : MitigationStatus.Kept, Reason = reason, AfterRunId = input.AfterRunId, Report = report };
    }
}
