using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Mitigation;

namespace SpecFunctions.Orchestration;

/// <summary>Input of the <c>MitigateDrafter</c> orchestration.</summary>
public sealed record MitigationRequest
{
    /// <summary>The evaluated run ("before").</summary>
    public required string RunId { get; init; }

    /// <summary>The evaluation that produced it (suite, models, settings); re-run with the new drafter.</summary>
    public required EvaluationRequest Evaluation { get; init; }

    public string Strategy { get; init; } = MitigationStrategies.SCdf;

    public WeightRule WeightRule { get; init; } = WeightRule.ShiftByMinimum;

    /// <summary>
    /// Training prompts per task id (corrective data comes from the verifier's generations on these). A task without
    /// any, or with one that is also an evaluation prompt, gets the mitigation refused (<see cref="MitigationData"/>).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> TrainingPrompts { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Condition (b) of the promotion rule: no task's measured after / before below 1 − margin. Default 0.05.</summary>
    public double SpeedupMargin { get; init; } = 0.05;

    /// <summary>How long to wait for an external trainer's new drafter, seconds. Default 24 h.</summary>
    public double ExternalTimeoutSeconds { get; init; } = 24 * 3600;

    public int Seed { get; init; } = 1;
}
