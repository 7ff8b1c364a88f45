using Microsoft.DurableTask;

namespace SpecFunctions.Orchestration;

/// <summary>
/// Calling <c>EvaluateTask</c> with retries (or, with a <see cref="QueueDispatch"/>, the evaluation queue); a task that
/// still fails becomes a failed summary, not a failed suite.
/// </summary>
internal static class TaskEvaluation
{
    /// <summary>Three attempts, 1 s then 2 s apart. Durable timers make the waits replay-safe.</summary>
    public static TaskOptions Retry { get; } = TaskOptions.FromRetryPolicy(new RetryPolicy(maxNumberOfAttempts: 3, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2));

    /// <summary><see cref="Retry"/>, except for a referenced suite that cannot be used: reading it again gives the same answer.</summary>
    public static TaskOptions PrepareRetry { get; } = TaskOptions.FromRetryPolicy(new RetryPolicy(maxNumberOfAttempts: 3, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2)
    {
        HandleFailure = failure => !failure.IsCausedBy<Core.Evaluation.SuiteSourceException>(),
    });

    public static async Task<TaskSummary> RunAsync(TaskOrchestrationContext context, EvaluateTaskInput input, QueueDispatch? dispatch = null)
    {
        try
        {
            return dispatch is not null
                ? await QueueDispatchLoop.RunAsync(context, input, dispatch).ConfigureAwait(true)
                : await context.CallActivityAsync<TaskSummary>(DurableNames.EvaluateTask, input, Retry).ConfigureAwait(true);
        }
        catch (TaskFailedException ex)
        {
            var message = ex.FailureDetails.ErrorMessage;
            context.CreateReplaySafeLogger(typeof(TaskEvaluation)).TaskFailed(input.RunId, input.TaskId, message);
            return input.Unevaluated(TaskOutcome.Failed, FirstLine(message));
        }
    }

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 300 ? line[..300] : line;
    }
}
