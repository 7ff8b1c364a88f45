namespace SpecFunctions.Core.Metrics;

/// <summary>Suite-level fairness (method.md §5). Tasks are weighted uniformly; variances use 1/m.</summary>
public sealed record FairnessMetrics
{
    /// <summary>U = (1/m) Σ (D_T − D̄)², the variance of per-task cross-entropy (nats²). Lower is fairer.</summary>
    public required double Unfairness { get; init; }

    /// <summary>D̄, the mean per-task cross-entropy (nats).</summary>
    public required double MeanCrossEntropy { get; init; }

    /// <summary>U_KL = (1/m) Σ (KL_T − KL̄)², the variance of per-task KL(p‖q) (nats²; method.md §6), beside U; NaN when not computed.</summary>
    public double KlUnfairness { get; init; } = double.NaN;

    /// <summary>Variance (1/m) of per-task speed-ups.</summary>
    public required double SpeedupVariance { get; init; }

    /// <summary>max S_T − min S_T.</summary>
    public required double SpeedupRange { get; init; }

    /// <summary>min S_T / max S_T (1 = perfectly equal).</summary>
    public required double MinMaxSpeedupRatio { get; init; }

    public required double MeanSpeedup { get; init; }

    /// <summary>The task with the lowest speed-up.</summary>
    public required string WorstTask { get; init; }

    /// <summary>U = (1/m) Σ (D_T − D̄)² for per-task cross-entropies (nats²).</summary>
    public static double UnfairnessOf(IReadOnlyList<double> crossEntropy)
    {
        ArgumentNullException.ThrowIfNull(crossEntropy);
        var mean = crossEntropy.Average();
        return crossEntropy.Average(d => (d - mean) * (d - mean));
    }

    /// <summary>Computes the metrics from per-task (id, D_T, S_T).</summary>
    public static FairnessMetrics Compute(IReadOnlyList<(string TaskId, double CrossEntropy, double Speedup)> tasks)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        if (tasks.Count == 0)
        {
            throw new ArgumentException("fairness needs at least one task", nameof(tasks));
        }

        var meanD = tasks.Average(t => t.CrossEntropy);
        var meanS = tasks.Average(t => t.Speedup);
        var worst = tasks.MinBy(t => t.Speedup);
        var maxS = tasks.Max(t => t.Speedup);
        return new FairnessMetrics
        {
            Unfairness = UnfairnessOf([.. tasks.Select(t => t.CrossEntropy)]),
            MeanCrossEntropy = meanD,
            SpeedupVariance = tasks.Average(t => (t.Speedup - meanS) * (t.Speedup - meanS)),
            SpeedupRange = maxS - worst.Speedup,
            MinMaxSpeedupRatio = maxS > 0 ? worst.Speedup / maxS : double.NaN,
            MeanSpeedup = meanS,
            WorstTask = worst.TaskId,
        };
    }
}
