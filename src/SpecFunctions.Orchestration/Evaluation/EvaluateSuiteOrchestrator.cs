using Microsoft.DurableTask;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>
/// resolve → fan out one <c>EvaluateTask</c> per task (per shard of a task with more prompts than the run's prompts per
/// shard; the shards' summaries are merged back into one per task), in process or through the evaluation queue as <c>PrepareRun</c>
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

        var inputs = request.Suite.Tasks.SelectMany(t => Inputs(request, t, prepared)).ToList();
        var shardsTotal = inputs.Count;
        var promptsTotal = request.Suite.Tasks.Sum(t => t.Prompts.Count);
        var shardsPerTask = inputs.GroupBy(i => i.TaskId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

        var pending = shardsTotal <= ChunkSize
            ? inputs.Select(i => One(context, i, dispatch)).ToList()
            : inputs.Chunk(ChunkSize).Select(chunk => context.CallSubOrchestratorAsync<IReadOnlyList<TaskSummary>>(
                DurableNames.EvaluateTaskChunk, new TaskChunkInput { Tasks = chunk, Dispatch = dispatch })).ToList();

        // Fan in one completion at a time so the custom status shows progress. On a cancel event the fan-in goes on: the
        // activities see the run's cancellation request in the store, so the ones not started return at once and a
        // running one stops between prompts, each reporting "cancelled"; what was committed before stays.
        var parts = new List<TaskSummary>(shardsTotal);
        var cancelled = false;
        var phase = EvaluationPhase.Evaluating;
        context.SetCustomStatus(Progress(phase, parts, shardsPerTask, total, shardsTotal, promptsTotal));
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
                parts.AddRange(await chunk.ConfigureAwait(true));
            }

            context.SetCustomStatus(Progress(phase, parts, shardsPerTask, total, shardsTotal, promptsTotal));
        }

        var summaries = parts.GroupBy(p => p.TaskId, StringComparer.Ordinal).Select(g => TaskSummaries.Merge([.. g])).ToList();
        cancelled |= summaries.Any(s => s.Status == TaskOutcome.Cancelled);

        summaries.Sort((a, b) => string.CompareOrdinal(a.TaskId, b.TaskId));
        var deviceWarning = DeviceWarnings.For(summaries);
        context.SetCustomStatus(Progress(EvaluationPhase.Fairness, parts, shardsPerTask, total, shardsTotal, promptsTotal));
        var fairness = await context.CallActivityAsync<FairnessOutcome>(
            DurableNames.ComputeFairness, new FairnessInput { RunId = request.RunId, Tasks = summaries, Policy = request.Mitigation, DeviceWarning = deviceWarning }, TaskEvaluation.Retry).ConfigureAwait(true);
        // A task whose trace vanished after its commit is failed, not evaluated: the outcome must say so.
        summaries = [.. summaries.Select(s => fairness.LostTasks.TryGetValue(s.TaskId, out var error) ? s with { Status = TaskOutcome.Failed, Error = error } : s)];
        logger.SuiteEvaluated(request.RunId, summaries.Count(s => s.Status == TaskOutcome.Failed), fairness.Unfairness ?? double.NaN, fairness.Decision);

        MitigationOutcome? mitigation = null;
        if (fairness.Decision == MitigationDecision.Mitigate && request.Mitigation.AutoMitigate && !cancelled)
        {
            context.SetCustomStatus(Progress(EvaluationPhase.Mitigating, parts, shardsPerTask, total, shardsTotal, promptsTotal));
            mitigation = await context.CallSubOrchestratorAsync<MitigationOutcome>(
                DurableNames.MitigateDrafter,
                MitigationRequests.From(request),
                new SubOrchestrationOptions { InstanceId = MitigationRequests.InstanceId(request.RunId) }).ConfigureAwait(true);
        }

        context.SetCustomStatus(Progress(cancelled ? EvaluationPhase.Cancelled : EvaluationPhase.Done, parts, shardsPerTask, total, shardsTotal, promptsTotal));
        return new EvaluationOutcome { RunId = request.RunId, Tasks = summaries, Fairness = fairness, Mitigation = mitigation, Cancelled = cancelled, DeviceWarning = deviceWarning };
    }

    /// <summary>
    /// The activities' inputs of one task: the whole task, or one per shard when it has more prompts than the run's
    /// prompts per shard (<see cref="PreparedRun.PromptsPerShard"/>).
    /// </summary>
    private static IEnumerable<EvaluateTaskInput> Inputs(EvaluationRequest request, SuiteTask task, PreparedRun prepared)
    {
        var whole = new EvaluateTaskInput
        {
            RunId = request.RunId,
            TaskId = task.Id,
            Prompts = task.Prompts,
            Drafter = request.Drafter,
            Verifier = request.Verifier,
            Settings = request.Settings,
            Gamma = task.Gamma,
            ReuseAcrossRuns = !request.MeasureAfresh,
        };
        if (prepared.PromptsPerShard < 1 || !prepared.ShardedTaskKeys.TryGetValue(task.Id, out var key))
        {
            return [whole];
        }

        return ShardRange.Split(task.Prompts.Count, prepared.PromptsPerShard).Select(shard => whole with
        {
            Prompts = [.. task.Prompts.Skip(shard.FirstPrompt).Take(shard.Prompts)],
            Shard = shard,
            TaskContentKey = key,
        });
    }

    /// <summary>Progress in tasks (all of whose shards are done), shards and prompts.</summary>
    private static EvaluationProgress Progress(
        EvaluationPhase phase, IReadOnlyList<TaskSummary> parts, Dictionary<string, int> shardsPerTask, int tasksTotal, int shardsTotal, int promptsTotal)
    {
        var tasksDone = parts.GroupBy(p => p.TaskId, StringComparer.Ordinal).Count(g => g.Count() == shardsPerTask[g.Key]);
        return new EvaluationProgress
        {
            Phase = phase,
            TasksDone = tasksDone,
            TasksTotal = tasksTotal,
            ShardsDone = parts.Count,
            ShardsTotal = shardsTotal,
            PromptsDone = parts.Sum(p => p.Prompts),
            PromptsTotal = promptsTotal,
        };
    }

    // An async wrapper rather than ContinueWith: continuations must stay on the orchestration's scheduler.
    private static async Task<IReadOnlyList<TaskSummary>> One(TaskOrchestrationContext context, EvaluateTaskInput input, QueueDispatch? dispatch) =>
        [await TaskEvaluation.RunAsync(context, input, dispatch).ConfigureAwait(true)];
}
