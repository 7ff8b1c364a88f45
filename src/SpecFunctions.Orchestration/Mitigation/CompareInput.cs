
namespace SpecFunctions.Orchestration;

public sealed record CompareInput
{
    public required MitigationRequest Request { get; init; }
    public required string AfterRunId { get; init; }
    public required NewDrafter Drafter { get; init; }

    /// <summary>Gating: per task, the dev-split α its γ* was chosen from (stated in the report); null otherwise.</summary>
    public IReadOnlyDictionary<string, double>? DevAlpha { get; init; }
}
