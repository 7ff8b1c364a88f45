
namespace SpecFunctions.Orchestration;

public sealed record CompareInput
{
    public required MitigationRequest Request { get; init; }
    public required string AfterRunId { get; init; }
    public required NewDrafter Drafter { get; init; }
}
