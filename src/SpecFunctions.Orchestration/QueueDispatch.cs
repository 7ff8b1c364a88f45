using System.Text;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>
/// A run's queue dispatch (<see cref="EvaluationOptions.Dispatch"/> = Queue): each task goes to the evaluation queue as
/// a <see cref="QueuedTask"/>; the evaluator plane runs it and answers with a <see cref="TaskCompletion"/>, which the
/// control plane raises on the orchestration as the event <see cref="CompletionEvent"/>. The orchestration waits on a
/// durable timer and re-dispatches on expiry; a duplicate or late completion finds its waiter gone and is ignored, and
/// the store's content keys make a second evaluation of the same task reuse (or replace) the first one's trace, never add one.
/// </summary>
public sealed record QueueDispatch
{
    /// <summary>Seconds to wait for a completion before the task is put on the queue again.</summary>
    public required double TimeoutSeconds { get; init; }

    /// <summary>Messages per task (the first included) before the task is reported failed.</summary>
    public required int MaxDispatches { get; init; }

    /// <summary>The dispatch for these options, or null when tasks run in process.</summary>
    public static QueueDispatch? From(EvaluationOptions options) => options.Dispatch == TaskDispatchMode.Queue
        ? new QueueDispatch { TimeoutSeconds = options.DispatchTimeoutSeconds, MaxDispatches = options.MaxDispatches }
        : null;

    /// <summary>
    /// The external event that carries a task's summary back to the orchestration instance that dispatched it. The task id
    /// is hex-encoded: event names are matched without regard to case, task ids are not.
    /// </summary>
    /// <remarks>A shard's event names its shard too: the shards of one task are waited for separately.</remarks>
    public static string CompletionEvent(string taskId, int? shard = null) =>
        "TaskCompleted:" + Convert.ToHexString(Encoding.UTF8.GetBytes(taskId)) + (shard is { } index ? $":{index}" : string.Empty);
}

/// <summary>The evaluation queue's message: one task, and where to report it.</summary>
public sealed record QueuedTask
{
    /// <summary>The orchestration instance waiting for the completion (the run's, or its chunk sub-orchestration's).</summary>
    public required string InstanceId { get; init; }

    /// <summary>1 for the first dispatch of the task, 2 for its re-dispatch after a timeout, …</summary>
    public required int Dispatch { get; init; }

    public required EvaluateTaskInput Task { get; init; }

    /// <summary>W3C trace context of the dispatching activity, so the evaluator's spans join the run's trace.</summary>
    public string? TraceParent { get; init; }
}

/// <summary>The completion queue's message: the evaluator's summary of one task.</summary>
public sealed record TaskCompletion
{
    public required string InstanceId { get; init; }
    public required int Dispatch { get; init; }
    public required TaskSummary Summary { get; init; }
    public string? TraceParent { get; init; }
}

/// <summary>Puts a task on the evaluation queue (the Functions app: Azure Storage queues).</summary>
public interface ITaskDispatcher
{
    Task SendAsync(QueuedTask message, CancellationToken cancellationToken = default);
}

/// <summary>The default: no queue. A run configured for queue dispatch fails its tasks saying so.</summary>
public sealed class UnconfiguredTaskDispatcher : ITaskDispatcher
{
    public Task SendAsync(QueuedTask message, CancellationToken cancellationToken = default) =>
        throw new InvalidOperationException(
            "Evaluation:Dispatch is Queue but this host has no evaluation queue: run the Functions app (which sends to the "
            + "evaluation queue) or set Evaluation:Dispatch to InProcess");
}

/// <summary>
/// Sends one task to the evaluation queue. A task of a cancelled run (<see cref="RunCancellation"/>) is not sent: it is
/// marked cancelled and its summary returned at once (null: sent, wait for the completion).
/// </summary>
public sealed class DispatchTaskActivity(ITraceStore store, ITaskDispatcher dispatcher, ILogger<DispatchTaskActivity> logger) : TaskActivity<QueuedTask, TaskSummary?>
{
    public override async Task<TaskSummary?> RunAsync(TaskActivityContext context, QueuedTask message)
    {
        var input = message.Task;
        using var activity = EvaluationTelemetry.Source.StartActivity("DispatchTask", System.Diagnostics.ActivityKind.Producer);
        activity?.SetTag("specfn.run_id", input.RunId);
        activity?.SetTag("specfn.task_id", input.TaskId);
        activity?.SetTag("specfn.dispatch", message.Dispatch);
        activity?.SetTag("messaging.system", "azure_queue");
        if (await store.IsRequestedAsync(input.RunId).ConfigureAwait(false))
        {
            try
            {
                await store.MarkTaskCancelledAsync(input.RunId, input.TaskId).ConfigureAwait(false);
            }
            catch (RunNotFoundException)
            {
                // Cancelled before PrepareRun wrote the manifest: there is no task entry to mark.
            }

            logger.TaskCancelled(input.RunId, input.TaskId, 0);
            return input.Unevaluated(TaskOutcome.Cancelled);
        }

        await dispatcher.SendAsync(message with { TraceParent = activity?.Id ?? message.TraceParent }).ConfigureAwait(false);
        logger.TaskDispatched(input.RunId, input.TaskId, message.Dispatch);
        return null;
    }
}

/// <summary>The orchestration side of queue dispatch: send, wait with a durable timer, send again on expiry.</summary>
internal static class QueueDispatchLoop
{
    public static async Task<TaskSummary> RunAsync(TaskOrchestrationContext context, EvaluateTaskInput input, QueueDispatch dispatch)
    {
        var logger = context.CreateReplaySafeLogger(typeof(QueueDispatchLoop));

        // One waiter for all dispatches: whichever dispatch answers first completes the task; later answers are ignored.
        var completed = context.WaitForExternalEvent<TaskSummary>(QueueDispatch.CompletionEvent(input.TaskId, input.Shard?.Index));
        for (var attempt = 1; ; attempt++)
        {
            var immediate = await context.CallActivityAsync<TaskSummary?>(
                DurableNames.DispatchTask, new QueuedTask { InstanceId = context.InstanceId, Dispatch = attempt, Task = input }, TaskEvaluation.Retry).ConfigureAwait(true);
            if (immediate is not null)
            {
                return immediate;
            }

            using var timeout = new CancellationTokenSource();
            var timer = context.CreateTimer(TimeSpan.FromSeconds(dispatch.TimeoutSeconds), timeout.Token);
            if (await Task.WhenAny(completed, timer).ConfigureAwait(true) == completed)
            {
                timeout.Cancel();
                return await completed.ConfigureAwait(true);
            }

            logger.DispatchExpired(input.RunId, input.TaskId, attempt, dispatch.TimeoutSeconds);
            if (attempt >= dispatch.MaxDispatches)
            {
                var error = $"no evaluator answered {attempt} dispatch(es) of {dispatch.TimeoutSeconds:G4} s each";
                logger.TaskFailed(input.RunId, input.TaskId, error);
                return input.Unevaluated(TaskOutcome.Failed, error);
            }
        }
    }
}
