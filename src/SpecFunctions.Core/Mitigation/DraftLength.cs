using SpecFunctions.Core.Metrics;

namespace SpecFunctions.Core.Mitigation;

/// <summary>
/// The draft length that pays (method.md §5): the refined prediction f_γ(α)/(γc + v_γ) for γ = 1 … G from the verifier
/// cost profile, and 1 for γ = 0 (plain decoding, no drafter). Gating picks its γ* with it from a task's α on the dev
/// split of its training prompts; the report states it per task from the evaluated α_T.
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

    /// <summary>The γ with the highest predicted speed-up (the smallest such γ on a tie).</summary>
    public static int Best(double alpha, double costRatio, IReadOnlyList<double> verificationProfile)
    {
        var byGamma = Predict(alpha, costRatio, verificationProfile);
        return Array.IndexOf(byGamma, byGamma.Max());
    }
}
