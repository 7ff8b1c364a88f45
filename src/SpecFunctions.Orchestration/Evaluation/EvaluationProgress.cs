using System.Text.Json.Serialization;

namespace SpecFunctions.Orchestration;

/// <summary>Orchestration progress, carried in the Durable custom status: tasks, shards (activities) and prompts.</summary>
public sealed record EvaluationProgress
{
    [JsonPropertyName("phase")]
    public required EvaluationPhase Phase { get; init; }

    [JsonPropertyName("tasksDone")]
    public int TasksDone { get; init; }

    [JsonPropertyName("tasksTotal")]
    public int TasksTotal { get; init; }

    /// <summary>Activities finished: shards of sharded tasks, whole tasks otherwise.</summary>
    [JsonPropertyName("shardsDone")]
    public int ShardsDone { get; init; }

    [JsonPropertyName("shardsTotal")]
    public int ShardsTotal { get; init; }

    /// <summary>Prompts of the finished activities (committed, reused, failed or cancelled).</summary>
    [JsonPropertyName("promptsDone")]
    public int PromptsDone { get; init; }

    [JsonPropertyName("promptsTotal")]
    public int PromptsTotal { get; init; }
}
