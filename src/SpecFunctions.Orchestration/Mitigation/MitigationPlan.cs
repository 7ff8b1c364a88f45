using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>The plan handed to an external trainer (model families the service cannot train in process).</summary>
public sealed record MitigationPlan
{
    public required string RunId { get; init; }

    /// <summary>Instance id of the waiting orchestration; the trainer raises <c>DrafterReady</c> on it.</summary>
    public required string InstanceId { get; init; }

    public required string Strategy { get; init; }
    public required WeightRule WeightRule { get; init; }

    /// <summary>Task id → (D_T, weight).</summary>
    public required IReadOnlyDictionary<string, TaskWeight> Tasks { get; init; }

    public required ModelIdentity BaseDrafter { get; init; }
    public required ModelIdentity Verifier { get; init; }

    /// <summary>Where the plan (and the run's traces) live in the store.</summary>
    public required string PlanLocation { get; init; }

    /// <summary>Task id → the prompts to train on: its training prompts less the dev split.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<string>> TrainingPrompts { get; init; }

    /// <summary>
    /// Task id → its dev split (the last 20 % of its training prompts, <see cref="MitigationData.DevSplit"/>): what D_T
    /// re-estimates, task weights, τ and any other choice from data are made on, never the evaluation prompts.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> DevPrompts { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>The evaluated run's settings: the trainer's soft labels and D_T use its sampling (temperature, top-k, top-p).</summary>
    public Core.Evaluation.EvaluationSettings? Settings { get; init; }

    /// <summary>Hyperparameters the trainer should use (documented defaults of the in-process trainer).</summary>
    public IReadOnlyDictionary<string, double> Hyperparameters { get; init; } = new Dictionary<string, double>();
}
