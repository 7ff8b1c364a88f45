using SpecFunctions.Core.Metrics;

namespace SpecFunctions.Core.Mitigation.Training;

/// <summary>What a drafter mitigation produced (the new drafter itself stays with its <see cref="IFineTunableDrafter"/>).</summary>
/// <param name="CrossEntropyBefore">Held-out D_T per task of the base drafter (nats).</param>
/// <param name="CrossEntropyAfter">Held-out D_T per task of the new drafter (nats).</param>
/// <param name="Notes">One line: what was done (steps, final weights, chosen τ).</param>
public sealed record DrafterMitigationResult(IReadOnlyList<double> CrossEntropyBefore, IReadOnlyList<double> CrossEntropyAfter, string Notes)
{
    /// <summary>U before: variance of D_T with 1/m.</summary>
    public double UnfairnessBefore => FairnessMetrics.UnfairnessOf(CrossEntropyBefore);

    /// <summary>U after.</summary>
    public double UnfairnessAfter => FairnessMetrics.UnfairnessOf(CrossEntropyAfter);
}
