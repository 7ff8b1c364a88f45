
namespace SpecFunctions.Orchestration;

/// <summary>What <c>PlanMitigation</c> decided.</summary>
public sealed record MitigationPlanOutcome
{
    public required MitigationPath Path { get; init; }

    /// <summary>The plan (null when refused).</summary>
    public MitigationPlan? Plan { get; init; }

    /// <summary>Why the mitigation was refused (one line; null otherwise).</summary>
    public string? Reason { get; init; }
}
