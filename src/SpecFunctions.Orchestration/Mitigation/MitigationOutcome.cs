using SpecFunctions.Core.Reporting;

namespace SpecFunctions.Orchestration;

/// <summary>Output of <c>MitigateDrafter</c>.</summary>
public sealed record MitigationOutcome
{
    public required MitigationStatus Status { get; init; }
    public required string Reason { get; init; }
    public string? AfterRunId { get; init; }
    public MitigationReport? Report { get; init; }
}
