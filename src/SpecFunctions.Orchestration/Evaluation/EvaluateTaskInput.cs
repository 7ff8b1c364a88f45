using SpecFunctions.Core.Evaluation;

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
}
