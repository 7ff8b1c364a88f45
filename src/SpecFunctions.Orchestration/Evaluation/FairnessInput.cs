using SpecFunctions.Core.Evaluation;

namespace SpecFunctions.Orchestration;

/// <summary>Input of <c>ComputeFairness</c>.</summary>
public sealed record FairnessInput
{
    public required string RunId { get; init; }
    public required IReadOnlyList<TaskSummary> Tasks { get; init; }
    public required MitigationPolicy Policy { get; init; }

    /// <summary>A device warning for the report (<see cref="EvaluationOutcome.DeviceWarning"/>), or null.</summary>
    public string? DeviceWarning { get; init; }
}
