using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Models.Synthetic;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Tests;

public class MetricsTests
{
    [Theory]
    [InlineData(0.0, 4, 1.0)]
    [InlineData(1.0, 4, 5.0)]
    [InlineData(0.8, 4, 3.3616)]
    [InlineData(0.5, 2, 1.75)]
    [InlineData(0.9, 1, 1.9)]
    [InlineData(0.999999, 3, 3.999994)]
    public void ExpectedTokensPerStep_KnownValues(double alpha, int gamma, double expected)
    {
        Assert.Equal(expected, SpeculativeMath.ExpectedTokensPerStep(alpha, gamma), 5);
    }

    [Fact]
    public void ExpectedTokensPerStep_IsMonotoneInAlpha()
    {
        var previous = 0.0;
        for (var a = 0.0; a <= 1.0; a += 0.01)
        {
            var f = SpeculativeMath.ExpectedTokensPerStep(a, 5);
            Assert.True(f > previous, $"f not increasing at α={a}");
            previous = f;
        }
    }

    [Theory]
    [InlineData(4, 0.1, 1 / 1.4)]
    [InlineData(2, 0.5, 0.5)]
    [InlineData(8, 0.0, 1.0)]
    public void AnalyticalSpeedup_AtAlphaZero_IsOneOverOnePlusGammaC(int gamma, double c, double expected)
    {
        Assert.Equal(expected, SpeculativeMath.AnalyticalSpeedup(0, gamma, c), 9);
    }

    [Fact]
    public void RefinedSpeedup_WithUnitVerificationCost_EqualsAnalytical()
    {
        Assert.Equal(SpeculativeMath.AnalyticalSpeedup(0.7, 4, 0.2), SpeculativeMath.RefinedSpeedup(0.7, 4, 0.2, 1.0), 12);
        Assert.Equal(3.3616 / (0.4 + 1.2), SpeculativeMath.RefinedSpeedup(0.8, 4, 0.1, 1.2), 4);
    }

    [Theory]
    [InlineData(new[] { 1.0, 2.0, 3.0 }, new[] { 2.0, 1.5, 1.0 }, 2.0 / 3, 1.0 / 6, 1.0, 0.5, "c")]
    [InlineData(new[] { 0.5, 0.5 }, new[] { 2.0, 2.0 }, 0.0, 0.0, 0.0, 1.0, "a")]
    [InlineData(new[] { 1.0, 4.0, 1.0, 2.0 }, new[] { 3.0, 1.0, 3.0, 2.0 }, 1.5, 0.6875, 2.0, 1.0 / 3, "b")]
    public void Fairness_HandComputedTables(double[] crossEntropy, double[] speedup, double unfairness, double speedupVariance, double range, double ratio, string worst)
    {
        var tasks = crossEntropy.Select((d, i) => (((char)('a' + i)).ToString(), d, speedup[i])).ToList();
        var fairness = FairnessMetrics.Compute(tasks);
        Assert.Equal(unfairness, fairness.Unfairness, 12);
        Assert.Equal(speedupVariance, fairness.SpeedupVariance, 12);
        Assert.Equal(range, fairness.SpeedupRange, 12);
        Assert.Equal(ratio, fairness.MinMaxSpeedupRatio, 12);
        Assert.Equal(worst, fairness.WorstTask);
    }

    [Fact]
    public void Bootstrap_MeanOfKnownDistribution_CoversTrueValueAtNominalRate()
    {
        // 300 independent data sets of 40 prompts with per-prompt values ~ Exp(1) (true mean 1); the percentile
        // bootstrap's 95 % interval should cover 1 about 95 % of the time (it under-covers slightly for skewed data
        // at n = 40, ~93 %). Binomial sd at 300 draws is 1.3 %: accept 0.88..0.99.
        var random = new Random(12);
        var covered = 0;
        const int datasets = 300;
        for (var d = 0; d < datasets; d++)
        {
            var values = Enumerable.Range(0, 40).Select(_ => -Math.Log(1 - random.NextDouble())).ToArray();
            var ci = Bootstrap.Percentile(values.Length, counts => counts.Select((c, i) => c * values[i]).Sum() / counts.Sum(), 500, 0.95, seed: d);
            if (ci.Contains(1.0))
            {
                covered++;
            }
        }

        Assert.InRange(covered / (double)datasets, 0.88, 0.99);
    }

    [Fact]
    public void Bootstrap_SameSeed_IsReproducible()
    {
        double[] values = [1, 5, 2, 8, 3];
        double Statistic(int[] counts) => counts.Select((c, i) => c * values[i]).Sum() / counts.Sum();
        Assert.Equal(Bootstrap.Percentile(5, Statistic, seed: 3), Bootstrap.Percentile(5, Statistic, seed: 3));
    }

    [Theory]
    [InlineData(0.08, 4, 0.1, 2.40114)]   // α ≥ 1 − √0.04 = 0.8: f_4(0.8) = 3.3616, / 1.4
    [InlineData(0.5, 2, 0.0, 1.75)]       // α ≥ 1 − √0.25 = 0.5: f_2(0.5) = 1.75
    [InlineData(2.0, 3, 0.2, 0.625)]      // √(2/2) = 1: α ≥ 0, f = 1, / 1.6
    public void SpeedupBound_KnownKl_HandComputedValue(double kl, int gamma, double costRatio, double expected) =>
        Assert.Equal(expected, SpeculativeMath.SpeedupBound(kl, gamma, costRatio), 5);

    [Theory]
    [InlineData(0.9, 4)]
    [InlineData(0.6, 3)]
    [InlineData(0.3, 6)]
    public void Analyze_SyntheticTask_SatisfiesTheoremOneAndJensen(double alpha, int gamma)
    {
        // Several prompts of a synthetic task at temperature 0.7 (so α(s) varies by prefix and is not α).
        var (drafter, verifier) = SyntheticPair.Create(128, alpha, seed: 3);
        var stats = new TaskStatisticsBuilder(gamma);
        var options = new DecodingOptions { Gamma = gamma, MaxNewTokens = 200, Seed = 1, Sampling = new() { Temperature = 0.7 } };
        new TaskRunner(drafter, verifier, options).Run([[1], [2], [3], [4], [5], [6]], stats);
        var suite = SuiteAnalyzer.Analyze([("t", stats.Build())], gamma, new SuiteAnalysisOptions { CostRatio = 0.1 });
        var task = suite.Tasks[0];

        Assert.True(task.Kl <= task.CrossEntropy, "KL_T > D_T");
        Assert.True(task.AnalyticalSpeedup >= task.SpeedupBound - 1e-12, $"S_T {task.AnalyticalSpeedup} < bound {task.SpeedupBound}");

        // The same figures from their definitions (method.md §4), computed here independently of SpeculativeMath.
        static double F(double a, int g) => Enumerable.Range(0, g + 1).Sum(k => Math.Pow(a, k));
        Assert.Equal(F(task.Alpha, gamma) / (1 + (gamma * 0.1)), task.AnalyticalSpeedup, 10);
        Assert.Equal(F(Math.Clamp(1 - Math.Sqrt(task.Kl / 2), 0, 1), gamma) / (1 + (gamma * 0.1)), task.SpeedupBound, 10);
        Assert.True(task.SpeedupBound >= task.SpeedupBoundCrossEntropy - 1e-12, "KL bound looser than CE bound");
        Assert.True(task.ExpectedSpeedupPerPrefix >= task.AnalyticalSpeedup - 1e-12, "Jensen: per-prefix mean below S_T");
        Assert.True(task.AlphaCi.Contains(task.Alpha), "α_T outside its own CI");
        Assert.InRange(task.Alpha, 0, 1);
        Assert.NotNull(task.MeasuredSpeedup);
    }

    [Fact]
    public void Analyze_HandBuiltTrace_ComputesEveryTaskQuantity()
    {
        // Two prompts, γ = 2, hand-written steps: all quantities below are computed by hand.
        var builder = new TaskStatisticsBuilder(2);
        builder.AddRange(
        [
            new StepTrace { Prompt = 0, Gamma = 2, Accepted = 2, Bonus = true, Emitted = 3, Alpha = [1.0, 0.5], CrossEntropy = [0.2, 0.4], Kl = [0.0, 0.2], DrafterMs = 2, DrafterCalls = 2, VerifierMs = 12 },
            new StepTrace { Prompt = 0, Gamma = 2, Accepted = 0, Emitted = 1, Alpha = [0.5, 0.0], CrossEntropy = [0.6, 0.8], Kl = [0.2, 0.4], DrafterMs = 2, DrafterCalls = 2, VerifierMs = 12 },
            new PromptTrace { Prompt = 0, GeneratedTokens = 4, SpeculativeMs = 40, BaselineMs = 80, BaselineTokens = 4, BaselineStepMs = 10 },
            new StepTrace { Prompt = 1, Gamma = 2, Accepted = 1, Emitted = 2, Alpha = [1.0, 1.0], CrossEntropy = [0.0, 0.0], Kl = [0.0, 0.0], DrafterMs = 2, DrafterCalls = 2, VerifierMs = 12 },
            new PromptTrace { Prompt = 1, GeneratedTokens = 2, SpeculativeMs = 20, BaselineMs = 20, BaselineTokens = 2, BaselineStepMs = 10 },
        ]);

        var suite = SuiteAnalyzer.Analyze([("x", builder.Build())], 2);
        var t = suite.Tasks[0];
        Assert.Equal(0.1, suite.CostRatio, 12);                 // 1 ms per drafter call / 10 ms per verifier position
        Assert.Equal(1.2, suite.VerificationCostRatio, 12);     // 12 ms per γ+1 call / 10 ms
        Assert.Equal(4.0 / 6, t.Alpha, 12);                      // (1 + .5 + .5 + 0 + 1 + 1) / 6
        Assert.Equal(2.0 / 6, t.CrossEntropy, 12);
        Assert.Equal(0.8 / 6, t.Kl, 12);
        Assert.Equal(3.0 / 6, t.AcceptanceRate, 12);
        Assert.Equal(2.0, t.MeanAcceptedLength, 12);             // (3 + 1 + 2) / 3 steps, bonus included
        Assert.Equal(SpeculativeMath.ExpectedTokensPerStep(4.0 / 6, 2) / 1.2, t.AnalyticalSpeedup, 12);
        Assert.Equal(SpeculativeMath.ExpectedTokensPerStep(4.0 / 6, 2) / (0.2 + 1.2), t.RefinedSpeedup, 12);
        Assert.Equal((100.0 / 6) / (60.0 / 6), t.MeasuredSpeedup!.Value, 12); // pooled per-token baseline / speculative
        Assert.Equal([2.0 / 3, 1.0 / 3], t.AcceptedPastPosition);      // accepted 2, 0, 1: length > 0 in 2 of 3 steps, > 1 in 1
        Assert.Equal([2.0 / 3, 1.0 / 2], t.AcceptanceRateByPosition);  // position 2 verified in 2 steps (accepted ≥ 1), accepted in 1
        var perPrefix = new[] { 1.0, 0.5, 0.5, 0.0, 1.0, 1.0 }.Average(a => SpeculativeMath.ExpectedTokensPerStep(a, 2)) / 1.2;
        Assert.Equal(perPrefix, t.ExpectedSpeedupPerPrefix, 12);

        // Intervals: with two prompts a resample holds prompt 0 only, prompt 1 only (a quarter of the time each) or both,
        // so each 95 % percentile interval spans exactly the two single-prompt values.
        static void Between(double lower, double upper, ConfidenceInterval? ci)
        {
            Assert.NotNull(ci);
            Assert.Equal(lower, ci.Lower, 12);
            Assert.Equal(upper, ci.Upper, 12);
        }

        Between(0.5, 1.0, t.AlphaCi);                               // α: prompt 0 (1+.5+.5+0)/4, prompt 1 (1+1)/2
        Between(0.0, 0.2, t.KlCi);                                  // KL: prompt 1 0, prompt 0 (0+.2+.2+.4)/4
        Between(0.5, 0.5, t.AcceptanceRateCi);                      // 2 of 4 drafts, 1 of 2
        Between(2.0, 2.0, t.MeanAcceptedLengthCi);                  // (3+1)/2, 2/1
        Between(1.75 / 1.2, 3.0 / 1.2, t.AnalyticalSpeedupCi);      // f_2(0.5) = 1.75, f_2(1) = 3, over 1 + γc
        Between(1.75 / 1.4, 3.0 / 1.4, t.RefinedSpeedupCi);         // over γc + v_γ = 0.2 + 1.2
        Between(7.5 / 4 / 1.2, 3.0 / 1.2, t.ExpectedSpeedupPerPrefixCi); // (3 + 1.75 + 1.75 + 1)/4, (3 + 3)/2
    }

    [Fact]
    public void Analyze_NoBaselineAndNoCostRatio_ThrowsClearError()
    {
        var builder = new TaskStatisticsBuilder(2);
        builder.Add(new StepTrace { Prompt = 0, Gamma = 2, Accepted = 1, Emitted = 2, Alpha = [1, 0], CrossEntropy = [0, 1], Kl = [0, 1] });
        var error = Assert.Throws<InvalidOperationException>(() => SuiteAnalyzer.Analyze([("x", builder.Build())], 2));
        Assert.Contains("cost ratio", error.Message);
    }
}

public class GreedyBoundTests
{
    [Fact]
    public void Analyze_Greedy_ReportsNoTheoremOneBound()
    {
        var builder = new TaskStatisticsBuilder(1);
        builder.AddRange(
        [
            new StepTrace { Prompt = 0, Gamma = 1, Accepted = 1, Bonus = true, Emitted = 2, Alpha = [1.0], CrossEntropy = [3.0], Kl = [2.0], DrafterMs = 1, DrafterCalls = 1, VerifierMs = 10 },
            new PromptTrace { Prompt = 0, GeneratedTokens = 2, SpeculativeMs = 11, BaselineMs = 20, BaselineTokens = 2, BaselineStepMs = 10 },
        ]);
        var sampling = SuiteAnalyzer.Analyze([("t", builder.Build())], 1).Tasks[0];
        var greedy = SuiteAnalyzer.Analyze([("t", builder.Build())], 1, new SuiteAnalysisOptions { Greedy = true }).Tasks[0];
        Assert.True(double.IsFinite(sampling.SpeedupBound));
        Assert.True(double.IsNaN(greedy.SpeedupBound));
        Assert.True(double.IsNaN(greedy.SpeedupBoundCrossEntropy));
        Assert.Equal(sampling.AnalyticalSpeedup, greedy.AnalyticalSpeedup);
    }
}
