namespace SpecFunctions.Core.Mitigation.Training;

/// <summary>Everything an in-process trainer needs.</summary>
public sealed record DrafterTrainingJob
{
    public required string VerifierFolder { get; init; }
    public required string DrafterFolder { get; init; }
    public required string Strategy { get; init; }
    public required WeightRule WeightRule { get; init; }

    /// <summary>Per task: id, measured D_T, the training part and the dev part of its training prompts (<see cref="MitigationData.DevSplit"/>).</summary>
    public required IReadOnlyList<MitigationTask> Tasks { get; init; }
    public required int Seed { get; init; }

    /// <summary>The evaluated run's sampling temperature (0 = greedy, trained at 1). Default 1.</summary>
    public double Temperature { get; init; } = 1;
}

/// <summary>
/// One task of a <see cref="DrafterTrainingJob"/>: the corrective data comes from <paramref name="TrainingPrompts"/>; D_T
/// re-estimates, weights and τ are taken on <paramref name="HeldOutPrompts"/>, the dev split (never evaluation prompts).
/// </summary>
public sealed record MitigationTask(string Id, double CrossEntropy, IReadOnlyList<string> TrainingPrompts, IReadOnlyList<string> HeldOutPrompts);
