using SpecFunctions.Core.Metrics;

namespace SpecFunctions.Core.Mitigation;

/// <summary>
/// The draft length that pays (method.md §5): expected tokens per step f_γ(α) over the cost of a step at γ, for γ = 1 … G,
/// and 1 for γ = 0 (plain decoding, no drafter). The cost comes from the step-cost profile measured in the decode loop
/// where the run has one, else from the refined model (γc + v_γ, the verifier cost profile anchored at the run's γ).
/// Gating picks its γ* with it from a task's α on the dev split of its training prompts; the report states it per task
/// from the evaluated α_T.
/// </summary>
public static class DraftLength
{
    /// <summary>Predicted speed-up for γ = 0 … <c>profile.Count</c> (element γ).</summary>
    public static double[] Predict(double alpha, double costRatio, IReadOnlyList<double> verificationProfile)
    {
        ArgumentNullException.ThrowIfNull(verificationProfile);
        var byGamma = new double[verificationProfile.Count + 1];
        byGamma[0] = 1;
        for (var g = 1; g <= verificationProfile.Count; g++)
        {
            byGamma[g] = SpeculativeMath.RefinedSpeedup(alpha, g, costRatio, verificationProfile[g - 1]);
        }

        return byGamma;
    }

    /// <summary>
    /// Predicted speed-up for γ = 0 … <c>stepCosts.Count</c> from the step-cost profile measured in the decode loop:
    /// f_γ(α) expected tokens per step over s_γ, the wall time of one speculative step at γ in units of one baseline token
    /// (<see cref="SuiteAnalyzer.StepCostProfile"/>). No c, no v_γ, nothing anchored at one γ: every γ is timed itself.
    /// </summary>
    public static double[] PredictFromStepCosts(double alpha, IReadOnlyList<double> stepCosts)
    {
        ArgumentNullException.ThrowIfNull(stepCosts);
        var byGamma = new double[stepCosts.Count + 1];
        byGamma[0] = 1;
        for (var g = 1; g <= stepCosts.Count; g++)
        {
            byGamma[g] = SpeculativeMath.ExpectedTokensPerStep(alpha, g) / stepCosts[g - 1];
        }

        return byGamma;
    }

    /// <summary>The γ with the highest predicted speed-up (the smallest such γ on a tie).</summary>
    public static int Best(double alpha, double costRatio, IReadOnlyList<double> verificationProfile) => ArgMax(Predict(alpha, costRatio, verificationProfile));

    /// <summary>The γ with the highest speed-up predicted from the step-cost profile (the smallest such γ on a tie).</summary>
    public static int Best(double alpha, IReadOnlyList<double> stepCosts) => ArgMax(PredictFromStepCosts(alpha, stepCosts));

    private static int ArgMax(double[] byGamma) => Array.IndexOf(byGamma, byGamma.Max());
}
