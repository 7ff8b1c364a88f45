using Microsoft.DurableTask;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Mitigation;

namespace SpecFunctions.Orchestration;

/// <summary>
/// resolve → fan out one <c>EvaluateTask</c> per task, in process or through the evaluation queue as <c>PrepareRun</c>
/// says (<see cref="QueueDispatch"/>), through <c>EvaluateTaskChunk</c> sub-orchestrations when the suite is larger than a chunk) → fan in → <c>ComputeFairness</c> → mitigation decision. Deterministic: no clock, no I/O,
/// replay-safe logging only; progress goes to the custom status.
/// </summary>
public sealed class EvaluateSuiteOrchestrator : TaskOrchestrator<EvaluationRequest, EvaluationOutcome>
{
    /// <summary>Tasks per sub-orchestration; the orchestration input carries no options, so the size is fixed here.</summary>
    public const int ChunkSize = 16;

    public override async Task<EvaluationOutcome> RunAsync(TaskOrchestrationContext context, EvaluationRequest request)
    {
        var logger = context.CreateReplaySafeLogger<EvaluateSuiteOrchestrator>();
        var total = request.Suite.Tasks.Count;

        // Listening from the start: an event raised before this point is buffered and completes the wait at once.
        var cancel = context.WaitForExternalEvent<string>(DurableNames.CancelEvent);
        context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.Preparing, TasksTotal = total });
        var prepared = await context.CallActivityAsync<PreparedRun>(DurableNames.PrepareRun, request, TaskEvaluation.PrepareRetry).ConfigureAwait(true);
        var dispatch = prepared.Dispatch;
        if (prepared.Suite is { } referenced)
        {
            // A suite by reference: PrepareRun read and validated its blob, whose tasks are the run's from here on.
            request = request with { Suite = referenced };
            total = referenced.Tasks.Count;
        }

        var inputs = request.Suite.Tasks.Select(t => new EvaluateTaskInput
        {
            RunId = request.RunId,
            TaskId = t.Id,
            Prompts = t.Prompts,
            Drafter = request.Drafter,
            Verifier = request.Verifier,
            Settings = request.Settings,
            Gamma = t.Gamma,
            ReuseAcrossRuns = !request.MeasureAfresh,
        }).ToList();

        var pending = total <= ChunkSize
            ? inputs.Select(i => One(context, i, dispatch)).ToList()
            : inputs.Chunk(ChunkSize).Select(chunk => context.CallSubOrchestratorAsync<IReadOnlyList<TaskSummary>>(
                DurableNames.EvaluateTaskChunk, new TaskChunkInput { Tasks = chunk, Dispatch = dispatch })).ToList();

        // Fan in one completion at a time so the custom status shows progress. On a cancel event the fan-in goes on: the
        // activities see the run's cancellation request in the store, so the ones not started return at once and a
        // running one stops between prompts, each reporting "cancelled"; what was committed before stays.
        var summaries = new List<TaskSummary>(total);
        var cancelled = false;
        var phase = EvaluationPhase.Evaluating;
        context.SetCustomStatus(new EvaluationProgress { Phase = phase, TasksTotal = total });
        while (pending.Count > 0)
        {
            var done = cancelled
                ? await Task.WhenAny(pending).ConfigureAwait(true)
                : await Task.WhenAny(pending.Cast<Task>().Append(cancel)).ConfigureAwait(true);
            if (done == cancel)
            {
                cancelled = true;
                phase = EvaluationPhase.Cancelling;
                logger.CancelReceived(request.RunId, pending.Count);
            }
            else
            {
                var chunk = (Task<IReadOnlyList<TaskSummary>>)done;
                pending.Remove(chunk);
                summaries.AddRange(await chunk.ConfigureAwait(true));
            }

            context.SetCustomStatus(new EvaluationProgress { Phase = phase, TasksDone = summaries.Count, TasksTotal = total });
        }

        cancelled |= summaries.Any(s => s.Status == TaskOutcome.Cancelled);

        summaries.Sort((a, b) => string.CompareOrdinal(a.TaskId, b.TaskId));
        var deviceWarning = DeviceWarnings.For(summaries);
        context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.Fairness, TasksDone = total, TasksTotal = total });
        var fairness = await context.CallActivityAsync<FairnessOutcome>(
            DurableNames.ComputeFairness, new FairnessInput { RunId = request.RunId, Tasks = summaries, Policy = request.Mitigation, DeviceWarning = deviceWarning }, TaskEvaluation.Retry).ConfigureAwait(true);
        // A task whose trace vanished after its commit is failed, not evaluated: the outcome must say so.
        summaries = [.. summaries.Select(s => fairness.LostTasks.TryGetValue(s.TaskId, out var error) ? s with { Status = TaskOutcome.Failed, Error = error } : s)];
        logger.SuiteEvaluated(request.RunId, summaries.Count(s => s.Status == TaskOutcome.Failed), fairness.Unfairness ?? double.NaN, fairness.Decision);

        MitigationOutcome? mitigation = null;
        if (fairness.Decision == MitigationDecision.Mitigate && request.Mitigation.AutoMitigate && !cancelled)
        {
            context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.Mitigating, TasksDone = total, TasksTotal = total });
            mitigation = await context.CallSubOrchestratorAsync<MitigationOutcome>(
                DurableNames.MitigateDrafter,
                MitigationRequests.From(request),
                new SubOrchestrationOptions { InstanceId = MitigationRequests.InstanceId(request.RunId) }).ConfigureAwait(true);
        }

        context.SetCustomStatus(new EvaluationProgress { Phase = cancelled ? EvaluationPhase.Cancelled : EvaluationPhase.Done, TasksDone = total, TasksTotal = total });
        return new EvaluationOutcome { RunId = request.RunId, Tasks = summaries, Fairness = fairness, Mitigation = mitigation, Cancelled = cancelled, DeviceWarning = deviceWarning };
    }

    // An async wrapper rather than ContinueWith: continuations must stay on the orchestration's scheduler.
    private static async Task<IReadOnlyList<TaskSummary>> One(TaskOrchestrationContext context, EvaluateTaskInput input, QueueDispatch? dispatch) =>
        [await TaskEvaluation.RunAsync(context, input, dispatch).ConfigureAwait(true)];
}
