namespace SpecFunctions.Core.Mitigation.Training;

/// <summary>Everything an in-process trainer needs.</summary>
public sealed record DrafterTrainingJob
{
    public required string VerifierFolder { get; init; }
    public required string DrafterFolder { get; init; }
    public required string Strategy { get; init; }
    public required WeightRule WeightRule { get; init; }

    /// <summary>Per task: id, measured D_T, training prompts, held-out (evaluation) prompts.</summary>
    public required IReadOnlyList<MitigationTask> Tasks { get; init; }
    public required int Seed { get; init; }
}

/// <summary>One task of a <see cref="DrafterTrainingJob"/>.</summary>
public sealed record MitigationTask(string Id, double CrossEntropy, IReadOnlyList<string> TrainingPrompts, IReadOnlyList<string> HeldOutPrompts);
