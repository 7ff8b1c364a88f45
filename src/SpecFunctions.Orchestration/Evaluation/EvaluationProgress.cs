using System.Text.Json.Serialization;

namespace SpecFunctions.Orchestration;

/// <summary>Orchestration progress, carried in the Durable custom status.</summary>
public sealed record EvaluationProgress
{
    [JsonPropertyName("phase")]
    public required EvaluationPhase Phase { get; init; }

    [JsonPropertyName("tasksDone")]
    public int TasksDone { get; init; }

    [JsonPropertyName("tasksTotal")]
    public int TasksTotal { get; init; }
}
