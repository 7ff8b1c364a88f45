using Microsoft.Extensions.Logging;

namespace SpecFunctions.Orchestration;

/// <summary>Source-generated log messages of the orchestration layer. EventIds: 100s orchestrators, 200s activities.</summary>
internal static partial class Logs
{
    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Run {RunId} evaluated: {FailedTasks} failed task(s), U = {Unfairness}, decision {Decision}")]
    public static partial void SuiteEvaluated(this ILogger logger, string runId, int failedTasks, double unfairness, string decision);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Run {RunId}: task {TaskId} failed after retries: {Error}")]
    public static partial void TaskFailed(this ILogger logger, string runId, string taskId, string error);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Run {RunId}: cancel received; {Pending} task group(s) still to drain")]
    public static partial void CancelReceived(this ILogger logger, string runId, int pending);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "Run {RunId}: task {TaskId} had no completion {Seconds:G4} s after dispatch {Dispatch}")]
    public static partial void DispatchExpired(this ILogger logger, string runId, string taskId, int dispatch, double seconds);

    [LoggerMessage(EventId = 207, Level = LogLevel.Information, Message = "Run {RunId}: task {TaskId} put on the evaluation queue (dispatch {Dispatch})")]
    public static partial void TaskDispatched(this ILogger logger, string runId, string taskId, int dispatch);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "Run {RunId}: task {TaskId} cancelled after {Prompts} prompt(s); nothing committed")]
    public static partial void TaskCancelled(this ILogger logger, string runId, string taskId, int prompts);

    [LoggerMessage(EventId = 211, Level = LogLevel.Information, Message = "Run {RunId}: task {TaskId} shard {Shard} of {Shards} cancelled after {Prompts} prompt(s); nothing committed")]
    public static partial void ShardCancelled(this ILogger logger, string runId, string taskId, int shard, int shards, int prompts);

    [LoggerMessage(EventId = 208, Level = LogLevel.Information, Message = "Run {RunId}: task {TaskId} shard {Shard} of {Shards} already committed; not run again")]
    public static partial void ShardSkipped(this ILogger logger, string runId, string taskId, int shard, int shards);

    [LoggerMessage(EventId = 209, Level = LogLevel.Information, Message = "Run {RunId}: task {TaskId} shard {Shard} of {Shards} started ({Prompts} prompts from prompt {FirstPrompt})")]
    public static partial void ShardStarted(this ILogger logger, string runId, string taskId, int shard, int shards, int prompts, int firstPrompt);

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "Run {RunId}: task {TaskId} shard {Shard} of {Shards} {Status}, alpha {Alpha:F4}, {Seconds:F2} s")]
    public static partial void ShardEvaluated(this ILogger logger, string runId, string taskId, int shard, int shards, string status, double alpha, double seconds);

    [LoggerMessage(EventId = 205, Level = LogLevel.Information, Message = "Models {Drafter} / {Verifier} warmed up in {Seconds:F2} s")]
    public static partial void ModelsWarmedUp(this ILogger logger, string drafter, string verifier, double seconds);

    [LoggerMessage(EventId = 206, Level = LogLevel.Warning, Message = "Run {RunId}: task {TaskId} was committed but its trace is gone; marked failed: {Error}")]
    public static partial void TraceLost(this ILogger logger, string runId, string taskId, string error);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Run {RunId}: task {TaskId} {Status}, alpha {Alpha:F4}, {Seconds:F2} s")]
    public static partial void TaskEvaluated(this ILogger logger, string runId, string taskId, string status, double alpha, double seconds);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "Run {RunId}: report not built: {Reason}")]
    public static partial void ReportNotBuilt(this ILogger logger, string runId, string reason);

    [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "Run {RunId}: U = {Unfairness:G4}, worst task {WorstTask}, decision {Decision}")]
    public static partial void FairnessComputed(this ILogger logger, string runId, double unfairness, string worstTask, string decision);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Run {RunId}: drafter training: {Message}")]
    public static partial void TrainerProgress(this ILogger logger, string runId, string message);

    [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "Run {RunId}: {Reason}")]
    public static partial void MitigationRefused(this ILogger logger, string runId, string reason);
}
