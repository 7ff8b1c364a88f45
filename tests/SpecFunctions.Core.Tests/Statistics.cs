namespace SpecFunctions.Core.Tests;

/// <summary>Pearson's chi-square goodness of fit, with the critical value from the Wilson–Hilferty approximation.</summary>
internal static class ChiSquare
{
    /// <summary>z of the one-sided 0.999 normal quantile: tests reject at significance 0.001.</summary>
    public const double Z999 = 3.090232;

    public static (double Statistic, int DegreesOfFreedom) Statistic(long[] observed, double[] expectedProbabilities)
    {
        var n = observed.Sum();
        double statistic = 0;
        var cells = 0;
        for (var i = 0; i < observed.Length; i++)
        {
            var expected = n * expectedProbabilities[i];
            if (expectedProbabilities[i] == 0)
            {
                continue;
            }

            statistic += (observed[i] - expected) * (observed[i] - expected) / expected;
            cells++;
        }

        return (statistic, cells - 1);
    }

    /// <summary>Upper quantile of χ²(k) at normal quantile z (Wilson–Hilferty; accurate to ~1 % for k ≥ 2).</summary>
    public static double Critical(int k, double z = Z999)
    {
        var a = 2.0 / (9 * k);
        return k * Math.Pow(1 - a + z * Math.Sqrt(a), 3);
    }
}
