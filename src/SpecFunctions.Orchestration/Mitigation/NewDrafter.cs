using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>A new drafter version (from the in-process trainer or an external one).</summary>
public sealed record NewDrafter
{
    /// <summary>Model reference the evaluation resolves: <c>{name}@{sha256}</c> for a stored version.</summary>
    public required string Reference { get; init; }

    public required ModelIdentity Identity { get; init; }

    /// <summary>What the trainer did (steps, weights, chosen temperature...).</summary>
    public string? Notes { get; init; }
}
