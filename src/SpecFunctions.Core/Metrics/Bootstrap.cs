namespace SpecFunctions.Core.Metrics;

/// <summary>A two-sided confidence interval.</summary>
public sealed record ConfidenceInterval(double Lower, double Upper)
{
    public bool Contains(double value) => value >= Lower && value <= Upper;
}

/// <summary>Seeded percentile bootstrap over independent units (prompts).</summary>
public static class Bootstrap
{
    /// <summary>
    /// Resamples <paramref name="units"/> units with replacement <paramref name="resamples"/> times; each resample is
    /// handed to <paramref name="statistic"/> as a count per unit (how often it was drawn), which suits ratio
    /// estimators such as Σ accepted / Σ proposed. Returns the (1−level)/2 and (1+level)/2 percentiles.
    /// </summary>
    public static ConfidenceInterval Percentile(int units, Func<int[], double> statistic, int resamples = 1000, double level = 0.95, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(units, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(resamples, 1);
        if (level is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "level must be in (0, 1)");
        }

        var random = new Random(seed);
        var counts = new int[units];
        var values = new double[resamples];
        var valid = 0;
        for (var r = 0; r < resamples; r++)
        {
            Array.Clear(counts);
            for (var i = 0; i < units; i++)
            {
                counts[random.Next(units)]++;
            }

            var value = statistic(counts);
            if (double.IsFinite(value))
            {
                values[valid++] = value;
            }
        }

        if (valid == 0)
        {
            return new ConfidenceInterval(double.NaN, double.NaN);
        }

        var sorted = values.AsSpan(0, valid);
        sorted.Sort();
        return new ConfidenceInterval(Quantile(sorted, (1 - level) / 2), Quantile(sorted, (1 + level) / 2));
    }

    /// <summary>
    /// Stratified percentile bootstrap of several statistics at once. Each resample draws, within every stratum (a task),
    /// as many units (prompts) as it has, with replacement, and hands <paramref name="statistics"/> the draw as one count
    /// array per stratum; it writes <paramref name="count"/> values. Two runs measured on the same units read the same
    /// counts, which makes the bootstrap paired. Non-finite values of a statistic are left out of its interval only.
    /// </summary>
    public static ConfidenceInterval[] Stratified(
        IReadOnlyList<int> strata, int count, Action<int[][], double[]> statistics, int resamples = 1000, double level = 0.95, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(strata);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(resamples, 1);
        if (strata.Count == 0 || strata.Any(n => n < 1))
        {
            throw new ArgumentException("every stratum needs at least one unit", nameof(strata));
        }

        if (level is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "level must be in (0, 1)");
        }

        var random = new Random(seed);
        var counts = strata.Select(n => new int[n]).ToArray();
        var draw = new double[count];
        var values = Enumerable.Range(0, count).Select(_ => new double[resamples]).ToArray();
        var valid = new int[count];
        for (var r = 0; r < resamples; r++)
        {
            foreach (var stratum in counts)
            {
                Array.Clear(stratum);
                for (var i = 0; i < stratum.Length; i++)
                {
                    stratum[random.Next(stratum.Length)]++;
                }
            }

            statistics(counts, draw);
            for (var k = 0; k < count; k++)
            {
                if (double.IsFinite(draw[k]))
                {
                    values[k][valid[k]++] = draw[k];
                }
            }
        }

        var intervals = new ConfidenceInterval[count];
        for (var k = 0; k < count; k++)
        {
            var sorted = values[k].AsSpan(0, valid[k]);
            sorted.Sort();
            intervals[k] = valid[k] == 0
                ? new ConfidenceInterval(double.NaN, double.NaN)
                : new ConfidenceInterval(Quantile(sorted, (1 - level) / 2), Quantile(sorted, (1 + level) / 2));
        }

        return intervals;
    }

    /// <summary>Linear-interpolated quantile of sorted values (type 7).</summary>
    public static double Quantile(ReadOnlySpan<double> sorted, double q)
    {
        var position = q * (sorted.Length - 1);
        var lower = (int)Math.Floor(position);
        var upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + (position - lower) * (sorted[upper] - sorted[lower]);
    }
}
