using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Models.Synthetic;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Tests;

/// <summary>
/// The statistics on reference prefixes (method.md §3, §7): the oracles "changing only γ leaves α_T, D_T and KL_T
/// unchanged" and "the same pair on the same prompts gives the same statistics (greedy: bit for bit)", and the batched
/// teacher-forced pass against a position-by-position computation.
/// </summary>
public sealed class ReferencePrefixTests
{
    private static readonly int[][] Prompts = [[1, 2, 3], [4], [5, 6], [7, 8, 9, 10]];

    private static DecodingOptions Options(int gamma, double temperature) => new()
    {
        Gamma = gamma, MaxNewTokens = 40, Seed = 11, Sampling = new SamplingOptions { Temperature = temperature },
    };

    private static IReadOnlyList<PromptStatistics> Statistics(int gamma, double temperature, (ILanguageModel Drafter, ILanguageModel Verifier) pair)
    {
        var builder = new TaskStatisticsBuilder(gamma);
        new TaskRunner(pair.Drafter, pair.Verifier, Options(gamma, temperature)).Run(Prompts, builder);
        return builder.Build();
    }

    [Theory]
    [InlineData(0.0)] // greedy
    [InlineData(1.0)]
    [InlineData(0.7)]
    public void ChangingOnlyGamma_LeavesAlphaCrossEntropyAndKlIdentical(double temperature)
    {
        var pair = SyntheticPair.Create(32, 0.6, seed: 3);

        var atOne = Statistics(1, temperature, pair);
        var atThree = Statistics(3, temperature, pair);
        var atSix = Statistics(6, temperature, pair);

        foreach (var other in new[] { atThree, atSix })
        {
            Assert.Equal(atOne.Select(p => p.Positions), other.Select(p => p.Positions));
            Assert.Equal(atOne.Select(p => p.AlphaSum), other.Select(p => p.AlphaSum));
            Assert.Equal(atOne.Select(p => p.CrossEntropySum), other.Select(p => p.CrossEntropySum));
            Assert.Equal(atOne.Select(p => p.KlSum), other.Select(p => p.KlSum));
        }

        // Not vacuous: every prompt has reference prefixes, and the steps (which depend on γ) did differ.
        Assert.All(atOne, p => Assert.True(p.FromReference && p.Positions == 40, $"prompt {p.Prompt}: {p.Positions} reference prefixes"));
        Assert.NotEqual(atOne.Sum(p => p.Steps), atSix.Sum(p => p.Steps));
    }

    [Fact]
    public void TheSamePairOnTheSamePrompts_GivesBitIdenticalStatistics()
    {
        var pair = SyntheticPair.Create(32, 0.6, seed: 3);

        var first = Statistics(4, 0.0, pair);
        var second = Statistics(4, 0.0, pair);

        Assert.Equal(first.Select(p => BitConverter.DoubleToInt64Bits(p.AlphaSum)), second.Select(p => BitConverter.DoubleToInt64Bits(p.AlphaSum)));
        Assert.Equal(first.Select(p => BitConverter.DoubleToInt64Bits(p.CrossEntropySum)), second.Select(p => BitConverter.DoubleToInt64Bits(p.CrossEntropySum)));
        Assert.Equal(first.Select(p => BitConverter.DoubleToInt64Bits(p.KlSum)), second.Select(p => BitConverter.DoubleToInt64Bits(p.KlSum)));
    }

    [Fact]
    public void ExactAcceptance_OnTheSyntheticPair_IsItsAlphaAtEveryReferencePrefix()
    {
        // The synthetic pair has Σ min(p, q) = 0.6 at every prefix (temperature 1), so α_T is 0.6 up to float rounding.
        var pair = SyntheticPair.Create(32, 0.6, seed: 3);

        var stats = Statistics(3, 1.0, pair);

        Assert.Equal(0.6, stats.Sum(p => p.AlphaSum) / stats.Sum(p => p.Positions), 5);
        Assert.All(stats, p => Assert.True(p.KlSum <= p.CrossEntropySum + 1e-9, "KL_T ≤ D_T"));
    }

    [Theory]
    [InlineData(0.0, 10)]
    [InlineData(0.8, 150)] // beyond one call's rows: three calls of 64, 64 and 22 positions
    public void TheBatchedPass_EqualsThePositionByPositionComputation(double temperature, int length)
    {
        var (drafter, verifier) = SyntheticPair.Create(24, 0.5, seed: 9);
        var sampling = new SamplingOptions { Temperature = temperature, TopK = temperature > 0 ? 12 : 0 };
        int[] prompt = [3, 1, 4];
        var continuation = Enumerable.Range(0, length).Select(i => (i * 7) % 24).ToArray();

        var trace = new ReferencePass(drafter, verifier, sampling).Run(5, prompt, continuation, ReferenceSource.Baseline);

        Assert.Equal((5, ReferenceSource.Baseline, length), (trace.Prompt, trace.Source, trace.Alpha.Length));
        var p = new float[24];
        var q = new float[24];
        var pLogits = new float[24];
        var qLogits = new float[24];
        var scratch = new float[24];
        for (var i = 0; i < length; i++)
        {
            int[] prefix = [.. prompt, .. continuation[..i]];
            using (var v = verifier.CreateSequence())
            {
                v.Append(prefix, pLogits);
            }

            using (var d = drafter.CreateSequence())
            {
                d.Append(prefix, qLogits);
            }

            var pRow = Distributions.ToProbabilities(pLogits, p, sampling, scratch);
            var qRow = Distributions.ToProbabilities(qLogits, q, sampling, scratch);
            var alpha = sampling.IsGreedy ? (Distributions.ArgMax(pLogits) == Distributions.ArgMax(qLogits) ? 1.0 : 0.0) : Distributions.Alpha(p, q, scratch);
            var (ce, kl) = Distributions.CrossEntropyAndKl(p, q, pLogits, pRow, qLogits, qRow, scratch);
            Assert.Equal(alpha, trace.Alpha[i], 12);
            Assert.Equal(ce, trace.CrossEntropy[i], 12);
            Assert.Equal(kl, trace.Kl[i], 12);
        }
    }

    [Fact]
    public void TheContinuation_IsCutToTheContextBothModelsAccept()
    {
        var (drafter, _) = SyntheticPair.Create(24, 0.5, seed: 9);
        var verifier = new FunctionLanguageModel("short", 24, (context, logits) => logits.Fill(context.Length % 3), contextLength: 8);

        var trace = new ReferencePass(drafter, verifier, new SamplingOptions { Temperature = 1.0 }).Run(0, [1, 2, 3], [4, 5, 6, 7, 8, 9, 10], ReferenceSource.Speculative);

        // Prefixes of 3 … 8 tokens fit: 6 positions.
        Assert.Equal(6, trace.Alpha.Length);
    }

    [Fact]
    public void TheTimedArms_RecordNoStatistics_AndEveryPromptGetsAReferenceTraceBeforeItsSummary()
    {
        var (drafter, verifier) = SyntheticPair.Create(32, 0.6, seed: 3);
        var records = new List<TraceRecord>();

        new TaskRunner(drafter, verifier, Options(3, 1.0)).Run(Prompts, new ListSink(records));

        Assert.All(records.OfType<StepTrace>(), s => Assert.Empty(s.Alpha));
        for (var i = 0; i < Prompts.Length; i++)
        {
            var mine = records.Where(r => r.Prompt == i).ToList();
            Assert.IsType<PromptTrace>(mine[^1]);
            var reference = Assert.IsType<ReferenceTrace>(mine[^2]);
            Assert.Equal(ReferenceSource.Baseline, reference.Source);
            Assert.Equal(((PromptTrace)mine[^1]).BaselineTokens, reference.Alpha.Length);
        }
    }

    /// <summary>Per-prompt sums with the given mean KL per prefix (α and D fixed), as a reference pass leaves them.</summary>
    private static PromptStatistics[] WithKl(double kl, int positions = 10) =>
    [
        .. Enumerable.Range(0, 3).Select(i => new PromptStatistics
        {
            Prompt = i, Steps = 5, Drafted = 10, Accepted = 6, Emitted = 11, FromReference = true, Positions = positions,
            AlphaSum = 0.6 * positions, CrossEntropySum = (kl + 1) * positions, KlSum = kl * positions, PerPrefixTokensSum = 2 * positions,
            ProposedAt = [5, 5], AcceptedAt = [4, 2], ReachedAt = [5, 4],
        }),
    ];

    [Fact]
    public void KlUnfairness_IsTheVarianceOfKlT_BesideU()
    {
        var suite = SuiteAnalyzer.Analyze([("a", WithKl(0.5)), ("b", WithKl(1.0)), ("c", WithKl(2.1))], 2, new SuiteAnalysisOptions { CostRatio = 0.1 });

        var mean = (0.5 + 1.0 + 2.1) / 3;
        var expected = (Math.Pow(0.5 - mean, 2) + Math.Pow(1.0 - mean, 2) + Math.Pow(2.1 - mean, 2)) / 3;
        Assert.Equal(expected, suite.Fairness.KlUnfairness, 12);
        Assert.Equal(expected, suite.Fairness.Unfairness, 12); // D_T = KL_T + 1 here: the same spread
    }

    [Fact]
    public void ATaskWithoutReferencePrefixes_IsAnErrorThatNamesIt()
    {
        var error = Assert.Throws<InvalidDataException>(() =>
            SuiteAnalyzer.Analyze([("a", WithKl(0.5)), ("empty", WithKl(0.5, positions: 0))], 2, new SuiteAnalysisOptions { CostRatio = 0.1 }));

        Assert.Contains("task 'empty'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ANaNReferenceStatistic_IsRefusedWhenTheTraceIsRead()
    {
        var builder = new TaskStatisticsBuilder(2);

        var error = Assert.Throws<InvalidDataException>(() =>
            builder.Add(new ReferenceTrace { Prompt = 3, Alpha = [0.5, 0.4], CrossEntropy = [1.0, double.NaN], Kl = [0.1, 0.2] }));

        Assert.Contains("prompt 3", error.Message, StringComparison.Ordinal);
    }

    private sealed class ListSink(List<TraceRecord> records) : ITraceSink
    {
        public void Write(TraceRecord record) => records.Add(record);
    }
}
