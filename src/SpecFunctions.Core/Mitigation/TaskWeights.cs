using System.Text.Json.Serialization;

namespace SpecFunctions.Core.Mitigation;

/// <summary>How s-CDF turns measured per-task cross-entropies D_T into task sampling weights (method.md §6).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<WeightRule>))]
public enum WeightRule
{
    /// <summary>w_T = D_T − min D (default): the best-served task gets no weight, every other task is pulled down.</summary>
    ShiftByMinimum,

    /// <summary>w_T = max(0, D_T − D̄): only tasks worse than average are trained.</summary>
    AboveMean,

    /// <summary>w_T = D_T: plain cross-entropy weighting.</summary>
    CrossEntropy,

    /// <summary>
    /// w_T = (2/m)(D_T − D̄), the exact gradient of U with respect to D_T. Signed: a negative weight means descending U
    /// would <i>raise</i> that task's D_T; samplers use |w_T| and trainers the sign.
    /// </summary>
    VarianceGradient,

    /// <summary>Uniform weights (the "balanced" baseline: data balancing with the same loss).</summary>
    Uniform,
}

public static class TaskWeights
{
    /// <summary>Weights for <paramref name="crossEntropy"/> (one D_T per task, nats), in task order.</summary>
    public static double[] Compute(IReadOnlyList<double> crossEntropy, WeightRule rule)
    {
        ArgumentNullException.ThrowIfNull(crossEntropy);
        if (crossEntropy.Count == 0)
        {
            throw new ArgumentException("at least one task is needed", nameof(crossEntropy));
        }

        if (crossEntropy.Any(d => !double.IsFinite(d) || d < 0))
        {
            throw new ArgumentException("cross-entropies must be finite and non-negative", nameof(crossEntropy));
        }

        var m = crossEntropy.Count;
        var mean = crossEntropy.Average();
        var min = crossEntropy.Min();
        return rule switch
        {
            WeightRule.ShiftByMinimum => [.. crossEntropy.Select(d => d - min)],
            WeightRule.AboveMean => [.. crossEntropy.Select(d => Math.Max(0, d - mean))],
            WeightRule.CrossEntropy => [.. crossEntropy],
            WeightRule.VarianceGradient => [.. crossEntropy.Select(d => 2.0 / m * (d - mean))],
            WeightRule.Uniform => [.. crossEntropy.Select(_ => 1.0)],
            _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "unknown weight rule"),
        };
    }

    /// <summary>Sampling probabilities ∝ |w_T|; uniform when every weight is zero (all tasks equally served).</summary>
    public static double[] SamplingProbabilities(IReadOnlyList<double> weights)
    {
        var total = weights.Sum(Math.Abs);
        return total > 0 ? [.. weights.Select(w => Math.Abs(w) / total)] : [.. weights.Select(_ => 1.0 / weights.Count)];
    }
}
