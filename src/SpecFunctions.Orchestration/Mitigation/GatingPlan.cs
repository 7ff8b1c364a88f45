using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>What <c>PlanGating</c> decided: γ* per task (chosen on the dev split), or why gating cannot run.</summary>
public sealed record GatingPlan
{
    public IReadOnlyDictionary<string, int> Gammas { get; init; } = new Dictionary<string, int>();

    /// <summary>Per task, α on the reference prefixes of its dev prompts: what γ* was chosen from.</summary>
    public IReadOnlyDictionary<string, double> DevAlpha { get; init; } = new Dictionary<string, double>();

    public ModelIdentity Drafter { get; init; } = new() { Name = "unknown", Sha256 = new string('0', 64) };

    /// <summary>Why gating is refused (the report has no γ* for some task); null when it runs.</summary>
    public string? Refusal { get; init; }
}
