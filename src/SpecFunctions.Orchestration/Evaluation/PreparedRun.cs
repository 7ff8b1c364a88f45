using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>What <c>PrepareRun</c> resolved: model identities and the run's manifest is written.</summary>
public sealed record PreparedRun
{
    public required string RunId { get; init; }
    public required ModelIdentity Drafter { get; init; }
    public required ModelIdentity Verifier { get; init; }

    /// <summary>How this run's tasks are dispatched (null: in process). Recorded here so replays see the same choice.</summary>
    public QueueDispatch? Dispatch { get; init; }

    /// <summary>
    /// Prompts per shard of this run (the settings', else the host's <see cref="EvaluationOptions.PromptsPerShard"/>);
    /// 0 in histories written before shards: every task is one activity.
    /// </summary>
    public int PromptsPerShard { get; init; }

    /// <summary>Content keys of the tasks that run in more than one shard, by task id (their shards share the key).</summary>
    public IReadOnlyDictionary<string, string> ShardedTaskKeys { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>A suite by reference as read and validated from its blob (the run's tasks from now on); null for an inline suite.</summary>
    public Core.Evaluation.SuiteDefinition? Suite { get; init; }
}
