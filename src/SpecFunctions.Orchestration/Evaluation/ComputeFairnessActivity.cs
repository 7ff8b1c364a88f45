using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>
/// Marks failed tasks, builds the report from the committed traces, decides on mitigation and publishes
/// report.json, report.html and tasks.csv. Runs even when some tasks failed. A task whose committed trace has vanished
/// is marked failed and returned in <see cref="FairnessOutcome.LostTasks"/>.
/// </summary>
public sealed class ComputeFairnessActivity(ITraceStore store, IOptions<EvaluationOptions> options, ILogger<ComputeFairnessActivity> logger)
    : TaskActivity<FairnessInput, FairnessOutcome>
{
    public override async Task<FairnessOutcome> RunAsync(TaskActivityContext context, FairnessInput input)
    {
        using var span = EvaluationTelemetry.Source.StartActivity("ComputeFairness");
        span?.SetTag("specfn.run_id", input.RunId);
        span?.SetTag("specfn.tasks", input.Tasks.Count);
        foreach (var failed in input.Tasks.Where(t => t.Status == TaskOutcome.Failed))
        {
            await store.MarkTaskFailedAsync(input.RunId, failed.TaskId, failed.Error ?? "failed").ConfigureAwait(false);
        }

        EvaluationReport report;
        try
        {
            report = await ReportBuilder.BuildAsync(store, input.RunId, new SuiteAnalysisOptions { BootstrapResamples = options.Value.BootstrapResamples }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TraceStoreException or InvalidDataException)
        {
            // InvalidDataException: a task without usable statistics (SuiteAnalyzer names it); no decision from a NaN.
            logger.ReportNotBuilt(input.RunId, ex.Message);
            Core.Telemetry.SpecFunctionsTelemetry.EvaluationsFailed.Add(1);
            return new FairnessOutcome { Decision = "not-evaluated", Reason = ex.Message, Error = ex.Message };
        }

        // A trace committed and then lost is a failed task: recorded in the manifest, so that a re-run evaluates it again.
        var evaluated = input.Tasks.Where(t => t.Status is TaskOutcome.Committed or TaskOutcome.Reused).Select(t => t.TaskId).ToHashSet(StringComparer.Ordinal);
        var lost = report.IncompleteTasks
            .Where(t => t.Status == TaskState.Failed && evaluated.Contains(t.TaskId))
            .ToDictionary(t => t.TaskId, t => t.Error ?? "committed trace missing", StringComparer.Ordinal);
        foreach (var (taskId, error) in lost)
        {
            logger.TraceLost(input.RunId, taskId, error);
            await store.MarkTaskFailedAsync(input.RunId, taskId, error).ConfigureAwait(false);
        }

        var decision = MitigationDecision.Decide(report, input.Policy);
        report = report with { Decision = decision, Warnings = input.DeviceWarning is { } device ? [.. report.Warnings, device] : report.Warnings };
        await ReportPublisher.PublishAsync(store, report).ConfigureAwait(false);
        var fairness = report.Suite.Fairness;
        logger.FairnessComputed(input.RunId, fairness.Unfairness, fairness.WorstTask, decision.Action);
        Core.Telemetry.SpecFunctionsTelemetry.EvaluationsCompleted.Add(1);
        return new FairnessOutcome
        {
            Unfairness = fairness.Unfairness,
            MeanSpeedup = fairness.MeanSpeedup,
            MinMaxSpeedupRatio = fairness.MinMaxSpeedupRatio,
            WorstTask = fairness.WorstTask,
            Decision = decision.Action,
            Reason = decision.Reason,
            ReportWritten = true,
            LostTasks = lost,
        };
    }
}
