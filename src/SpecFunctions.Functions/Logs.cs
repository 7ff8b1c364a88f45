using Microsoft.Extensions.Logging;

namespace SpecFunctions.Functions;

/// <summary>Source-generated log messages of the Functions app. Event ids: 1xx evaluation API, 2xx audit.</summary>
internal static partial class Logs
{
    [LoggerMessage(100, LogLevel.Information, "Rejected an evaluation submission: {ErrorCount} problem(s), first at {Field}")]
    public static partial void SubmissionRejected(this ILogger logger, int errorCount, string field);

    [LoggerMessage(101, LogLevel.Information, "Evaluation {RunId} already exists; not scheduled again")]
    public static partial void SubmissionAlreadyExists(this ILogger logger, string runId);

    [LoggerMessage(102, LogLevel.Information, "Scheduled evaluation {RunId} with {TaskCount} task(s)")]
    public static partial void EvaluationScheduled(this ILogger logger, string runId, int taskCount);

    [LoggerMessage(103, LogLevel.Information, "Cancellation of evaluation {RunId} requested")]
    public static partial void EvaluationCancelled(this ILogger logger, string runId);

    [LoggerMessage(105, LogLevel.Information, "Evaluation {RunId} was {Status}; re-submitted, starting it again")]
    public static partial void EvaluationRetried(this ILogger logger, string runId, string status);

    [LoggerMessage(104, LogLevel.Information, "Raised DrafterReady for the mitigation of run {RunId} (drafter {Drafter})")]
    public static partial void DrafterReadyRaised(this ILogger logger, string runId, string drafter);

    [LoggerMessage(110, LogLevel.Information, "Evaluator: run {RunId} task {TaskId} received (dispatch {Dispatch}, delivery {Delivery})")]
    public static partial void QueuedTaskReceived(this ILogger logger, string runId, string taskId, int dispatch, long delivery);

    [LoggerMessage(111, LogLevel.Error, "Evaluator: run {RunId} task {TaskId} failed on delivery {Delivery}, the last one; reported failed")]
    public static partial void QueuedTaskFailed(this ILogger logger, Exception exception, string runId, string taskId, long delivery);

    [LoggerMessage(112, LogLevel.Information, "Completion of task {TaskId} ({Status}, dispatch {Dispatch}) raised on {InstanceId}")]
    public static partial void CompletionRaised(this ILogger logger, string instanceId, string taskId, string status, int dispatch);

    [LoggerMessage(113, LogLevel.Information, "Completion of task {TaskId} (dispatch {Dispatch}) for {InstanceId} dropped: the orchestration is not running")]
    public static partial void LateCompletionDropped(this ILogger logger, string instanceId, string taskId, int dispatch);

    [LoggerMessage(114, LogLevel.Information, "Run {RunId} task {TaskId} ran on {ExecutionProvider} (GPU {Gpu}, driver {Driver})")]
    public static partial void TaskDevice(this ILogger logger, string runId, string taskId, string executionProvider, string gpu, string driver);

    [LoggerMessage(115, LogLevel.Warning, "Run {RunId} task {TaskId}: GPU requested but the CPU did the work: {Reason}")]
    public static partial void GpuFallback(this ILogger logger, string runId, string taskId, string reason);

    [LoggerMessage(116, LogLevel.Information, "Device: {Requested} requested; GPU {Gpu}, driver {Driver} (CUDA {DriverCuda}){Problem}")]
    public static partial void DeviceAtStartup(this ILogger logger, string requested, string gpu, string driver, string driverCuda, string problem);

    [LoggerMessage(118, LogLevel.Information, "CUDA natives: {Needs}; forward compatibility: {Compat}")]
    public static partial void CudaNativesAtStartup(this ILogger logger, string needs, string compat);

    [LoggerMessage(117, LogLevel.Warning, "GPU requested but this process cannot use one; evaluations will run on the CPU and be marked so: {Reason}")]
    public static partial void GpuUnusableAtStartup(this ILogger logger, string reason);

    [LoggerMessage(200, LogLevel.Information, "Nightly audit of {SuiteCount} registered suite(s)")]
    public static partial void AuditStarted(this ILogger logger, int suiteCount);

    [LoggerMessage(201, LogLevel.Information, "Audit of suite {Suite} scheduled run {RunId}")]
    public static partial void AuditRunScheduled(this ILogger logger, string suite, string runId);

    [LoggerMessage(202, LogLevel.Warning, "Regression in suite {Suite}: run {RunId} against {PreviousRunId}: {Reasons}")]
    public static partial void RegressionFound(this ILogger logger, string suite, string runId, string previousRunId, string reasons);

    [LoggerMessage(203, LogLevel.Information, "No regression in suite {Suite}: run {RunId} against {PreviousRunId}")]
    public static partial void NoRegression(this ILogger logger, string suite, string runId, string previousRunId);

    [LoggerMessage(204, LogLevel.Error, "Audit of suite {Suite} failed")]
    public static partial void AuditSuiteFailed(this ILogger logger, Exception exception, string suite);

    [LoggerMessage(205, LogLevel.Information, "Registered audit suite {Suite} with {TaskCount} task(s)")]
    public static partial void AuditSuiteRegistered(this ILogger logger, string suite, int taskCount);
}
