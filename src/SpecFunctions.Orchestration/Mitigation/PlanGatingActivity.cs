using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>Reads γ* per task from the evaluated run's report (its verifier cost profile); refuses when a task has none.</summary>
public sealed class PlanGatingActivity(ITraceStore store, ILogger<PlanGatingActivity> logger) : TaskActivity<string, GatingPlan>
{
    public override async Task<GatingPlan> RunAsync(TaskActivityContext context, string runId)
    {
        var before = await ReportPublisher.ReadAsync(store, runId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"run '{runId}' has no report to mitigate");
        var missing = before.Tasks.Where(t => t.OptimalGamma is null).Select(t => t.TaskId).ToList();
        if (missing.Count > 0 || before.Drafter is null)
        {
            var reason = $"gating needs the draft length that pays per task, and the report has none for {string.Join(", ", missing)}: the run measured no verifier cost profile (it needs a baseline)";
            logger.MitigationRefused(runId, reason);
            return new GatingPlan { Refusal = reason };
        }

        return new GatingPlan { Gammas = before.Tasks.ToDictionary(t => t.TaskId, t => t.OptimalGamma!.Value), Drafter = before.Drafter };
    }
}
