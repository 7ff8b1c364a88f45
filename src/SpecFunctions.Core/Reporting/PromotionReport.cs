using System.Text.Json.Serialization;
using SpecFunctions.Core.Mitigation;

namespace SpecFunctions.Core.Reporting;

/// <summary>How the promotion rule judged a mitigation: the target's paired change with its interval and what decided.</summary>
public sealed record PromotionReport
{
    /// <summary>Condition (a): <c>unfairness-fell</c> (a new drafter) or <c>worst-task-rose</c> (gating).</summary>
    [JsonPropertyName("target")]
    public required PromotionCondition Target { get; init; }

    /// <summary>The target's change after − before: ΔU, or the change of the worst task's speed-up.</summary>
    [JsonPropertyName("targetChange")]
    public required double TargetChange { get; init; }

    /// <summary>Paired bootstrap interval of <see cref="TargetChange"/> over the evaluation prompts.</summary>
    [JsonPropertyName("targetChangeCi")]
    public required IntervalReport TargetChangeCi { get; init; }

    /// <summary>Whether the interval excludes 0 in the helpful direction.</summary>
    [JsonPropertyName("targetShown")]
    public required bool TargetShown { get; init; }

    /// <summary>Condition (b)'s margin: every task's after / before must stay at or above 1 − margin.</summary>
    [JsonPropertyName("speedupMargin")]
    public required double SpeedupMargin { get; init; }

    [JsonPropertyName("resamples")]
    public required int Resamples { get; init; }

    /// <summary>The condition that failed (or <c>both</c> when the result was promoted).</summary>
    [JsonPropertyName("decidedBy")]
    public required PromotionCondition DecidedBy { get; init; }

    [JsonPropertyName("reason")]
    public required string Reason { get; init; }
}
