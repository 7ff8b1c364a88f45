using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>Input of one <c>EvaluateTask</c> activity.</summary>
public sealed record EvaluateTaskInput
{
    public required string RunId { get; init; }
    public required string TaskId { get; init; }
    public required IReadOnlyList<string> Prompts { get; init; }
    public required string Drafter { get; init; }
    public required string Verifier { get; init; }
    public required EvaluationSettings Settings { get; init; }

    /// <summary>The task's own draft length (<see cref="SuiteTask.Gamma"/>; 0 = plain decoding); null: <see cref="EvaluationSettings.Gamma"/>.</summary>
    public int? Gamma { get; init; }

    /// <summary>Reuse a committed trace of another run with the same content key (false for audits). Default true.</summary>
    public bool ReuseAcrossRuns { get; init; } = true;

    /// <summary>
    /// The shard of a sharded task this activity evaluates (<see cref="Prompts"/> are then the shard's prompts only);
    /// null: the whole task, one trace.
    /// </summary>
    public ShardRange? Shard { get; init; }

    /// <summary>A sharded task's content key (over all its prompts, computed by <c>PrepareRun</c>); null when not sharded.</summary>
    public string? TaskContentKey { get; init; }

    /// <summary>A summary of this input's evaluation that produced no statistics (cancelled, failed, not dispatched).</summary>
    public TaskSummary Unevaluated(TaskOutcome status, string? error = null) =>
        new() { TaskId = TaskId, Status = status, Error = error, Prompts = Prompts.Count, Shard = Shard?.Index, Shards = Shard?.Count };
}
