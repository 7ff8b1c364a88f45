namespace SpecFunctions.Core.Metrics;

/// <summary>Closed forms of method.md §4 (Leviathan et al.; Theorem 1 of arXiv 2510.02128).</summary>
public static class SpeculativeMath
{
    /// <summary>Expected tokens per verifier call f_γ(α) = Σ_{k=0..γ} α^k = (1−α^{γ+1})/(1−α); f_γ(1) = γ+1.</summary>
    public static double ExpectedTokensPerStep(double alpha, int gamma)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(gamma);
        alpha = Math.Clamp(alpha, 0.0, 1.0);

        // The geometric sum avoids the 0/0 of the closed form near α = 1.
        double sum = 0, term = 1;
        for (var k = 0; k <= gamma; k++)
        {
            sum += term;
            term *= alpha;
        }

        return sum;
    }

    /// <summary>The paper's analytical speed-up S = f_γ(α)/(1 + γc), c = drafter/verifier cost ratio.</summary>
    public static double AnalyticalSpeedup(double alpha, int gamma, double costRatio) =>
        ExpectedTokensPerStep(alpha, gamma) / (1 + gamma * costRatio);

    /// <summary>Refined prediction f_γ(α)/(γc + v_γ), v_γ = verifier time for γ+1 positions in one call / time for one.</summary>
    public static double RefinedSpeedup(double alpha, int gamma, double costRatio, double verificationCostRatio) =>
        ExpectedTokensPerStep(alpha, gamma) / (gamma * costRatio + verificationCostRatio);

    /// <summary>Theorem-1 lower bound f_γ(1 − √(div/2))/(1 + γc) with div = KL_T (tight form) or D_T (loose form), argument clipped to [0, 1].</summary>
    public static double SpeedupBound(double divergence, int gamma, double costRatio)
    {
        var alphaBound = Math.Clamp(1 - Math.Sqrt(Math.Max(0, divergence) / 2), 0.0, 1.0);
        return AnalyticalSpeedup(alphaBound, gamma, costRatio);
    }
}
