using System.Diagnostics;
using Azure.Storage.Queues.Models;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecFunctions.Functions.Durable;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Evaluator;

/// <summary>
/// The evaluator plane (queue dispatch, <c>Evaluation:Dispatch</c> = Queue): one queued task at a time through the same
/// <see cref="EvaluateTaskActivity"/> the in-process path runs, its summary sent to the completion queue. A failing
/// evaluation is left to the queue's redelivery for <c>Evaluation:MaxAttempts</c> deliveries, then reported failed. A
/// deployment runs this function alone on the GPU profile (<c>AzureFunctionsJobHost__functions__0=EvaluateQueuedTask</c>).
/// </summary>
public sealed class EvaluatorFunctions(
    EvaluateTaskActivity evaluateTask, TaskQueues queues, GpuProbe gpu, IOptions<EvaluationOptions> options, ILogger<EvaluatorFunctions> logger)
{
    public const string EvaluateQueuedTask = nameof(EvaluateQueuedTask);

    [Function(EvaluateQueuedTask)]
    public async Task RunAsync([QueueTrigger(TaskQueues.Evaluations)] QueueMessage message, FunctionContext context, CancellationToken cancellationToken)
    {
        var queued = message.Body.ToObjectFromJson<QueuedTask>(TaskQueues.Json)
            ?? throw new InvalidOperationException($"evaluation queue message {message.MessageId} is empty");
        var input = queued.Task;
        using var span = StartConsumerSpan("EvaluateQueuedTask", queued.TraceParent);
        span?.SetTag("specfn.run_id", input.RunId);
        span?.SetTag("specfn.task_id", input.TaskId);
        span?.SetTag("specfn.dispatch", queued.Dispatch);
        span?.SetTag("messaging.message.delivery_count", message.DequeueCount);
        // Describe runs the probe once, before the first CUDA session: it loads the forward-compatibility driver if needed.
        span?.SetTag("specfn.device.requested", gpu.Describe(null).Requested);
        logger.QueuedTaskReceived(input.RunId, input.TaskId, queued.Dispatch, message.DequeueCount);

        TaskSummary summary;
        try
        {
            summary = await evaluateTask.RunAsync(new FunctionActivityContext(EvaluateQueuedTask, context), input).ConfigureAwait(false);
            summary = DeviceLog.Stamp(summary, gpu, logger, input.RunId);
            span?.SetTag("specfn.status", WireNames.Of(summary.Status));
            span?.SetTag("specfn.steps", summary.Steps);
            span?.SetTag("specfn.generated_tokens", summary.GeneratedTokens);
        }
        catch (Exception ex) when (message.DequeueCount >= options.Value.MaxAttempts && ex is not OperationCanceledException)
        {
            // The last delivery: report the failure instead of leaving the task to the poison queue and the dispatch timeout.
            logger.QueuedTaskFailed(ex, input.RunId, input.TaskId, message.DequeueCount);
            summary = input.Unevaluated(TaskOutcome.Failed, FirstLine(ex.Message));
        }

        await queues.SendAsync(
            new TaskCompletion { InstanceId = queued.InstanceId, Dispatch = queued.Dispatch, Summary = summary, TraceParent = span?.Id ?? queued.TraceParent },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A span of the run's trace when the message carries one (W3C traceparent), else a new root.</summary>
    internal static Activity? StartConsumerSpan(string name, string? traceParent) =>
        ActivityContext.TryParse(traceParent, null, out var parent)
            ? EvaluationTelemetry.Source.StartActivity(name, ActivityKind.Consumer, parent)
            : EvaluationTelemetry.Source.StartActivity(name, ActivityKind.Consumer);

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 300 ? line[..300] : line;
    }
}

/// <summary>
/// The control plane's side of queue dispatch: raises each completion as the event the waiting orchestration listens
/// for. A completion for an orchestration that already finished (a late duplicate) is dropped with a log line.
/// </summary>
public sealed class CompletionFunctions(ILogger<CompletionFunctions> logger)
{
    public const string CompleteQueuedTask = nameof(CompleteQueuedTask);

    [Function(CompleteQueuedTask)]
    public async Task RunAsync([QueueTrigger(TaskQueues.Completions)] QueueMessage message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken)
    {
        var completion = message.Body.ToObjectFromJson<TaskCompletion>(TaskQueues.Json)
            ?? throw new InvalidOperationException($"completion queue message {message.MessageId} is empty");
        using var span = EvaluatorFunctions.StartConsumerSpan("CompleteQueuedTask", completion.TraceParent);
        span?.SetTag("specfn.task_id", completion.Summary.TaskId);
        span?.SetTag("specfn.status", WireNames.Of(completion.Summary.Status));
        var instance = await client.GetInstanceAsync(completion.InstanceId, cancellationToken).ConfigureAwait(false);
        if (instance is null || instance.IsCompleted)
        {
            logger.LateCompletionDropped(completion.InstanceId, completion.Summary.TaskId, completion.Dispatch);
            return;
        }

        await client.RaiseEventAsync(completion.InstanceId, QueueDispatch.CompletionEvent(completion.Summary.TaskId, completion.Summary.Shard), completion.Summary, cancellationToken).ConfigureAwait(false);
        logger.CompletionRaised(completion.InstanceId, completion.Summary.TaskId, WireNames.Of(completion.Summary.Status), completion.Dispatch);
    }
}

/// <summary>Stamps a task summary with its device report and logs it; a GPU run that fell back to the CPU is a warning.</summary>
internal static class DeviceLog
{
    public static TaskSummary Stamp(TaskSummary summary, GpuProbe gpu, ILogger logger, string runId)
    {
        if (summary.Status is not (TaskOutcome.Committed or TaskOutcome.Reused) || summary.ExecutionProvider is null)
        {
            return summary;
        }

        var device = gpu.Describe(summary.ExecutionProvider);
        Activity.Current?.SetTag("specfn.device.execution_provider", device.ExecutionProvider);
        Activity.Current?.SetTag("specfn.device.gpu", device.GpuName);
        if (device.FellBackToCpu)
        {
            logger.GpuFallback(runId, summary.TaskId, device.Note ?? "ONNX Runtime could not load its CUDA execution provider");
        }
        else
        {
            logger.TaskDevice(runId, summary.TaskId, device.ExecutionProvider, device.GpuName ?? "none", device.DriverVersion ?? "none");
        }

        return summary with { Device = device };
    }
}
