using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Models.Synthetic;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Tests;

/// <summary>The draft length that pays per task (γ*) from the verifier cost profile, against hand-computed values.</summary>
public sealed class DraftLengthTests
{
    /// <summary>
    /// A prompt with α(s) = alpha at each of 8 drafted positions, c = 0.1, the given cost profile, and a decode loop whose
    /// verifier steps cost <paramref name="loopRatio"/> single positions (by default the profile's own v_G: no anchoring).
    /// </summary>
    private static PromptStatistics Prompt(int i, double alpha, double[] profile, double? loopRatio = null) => new()
    {
        Prompt = i, Steps = 4, Drafted = 8, Accepted = 4, Emitted = 8, Positions = 8, AlphaSum = 8 * alpha, CrossEntropySum = 4, KlSum = 2,
        DrafterCalls = 8, DrafterMs = 0.8, VerifierMs = 4 * (loopRatio ?? profile[^1] / profile[0]), GeneratedTokens = 8, SpeculativeMs = 40,
        BaselineMs = 80, BaselineTokens = 8, BaselineStepMs = 1, ProposedAt = [4, 4, 0, 0], AcceptedAt = [2, 2, 0, 0], ReachedAt = [4, 2, 0, 0],
        VerifierCallMs = profile,
    };

    [Fact]
    public void Analyze_CostProfile_GivesGammaStarPerTask()
    {
        // Calls of 1…5 positions cost 1, 1.2, 3, 5, 9 ms → v_1..4 = 1.2, 3, 5, 9; one prompt's preempted profile (×50 on
        // two sizes) must not move the medians. c = (0.8 / 8) / 1 = 0.1.
        double[] profile = [1, 1.2, 3, 5, 9];
        double[] preempted = [1, 60, 3, 250, 9];
        var strong = Enumerable.Range(0, 5).Select(i => Prompt(i, 0.9, i == 2 ? preempted : profile, loopRatio: 9)).ToList();
        var mid = Enumerable.Range(0, 5).Select(i => Prompt(i, 0.5, profile)).ToList();
        var weak = Enumerable.Range(0, 5).Select(i => Prompt(i, 0.1, profile)).ToList();

        var suite = SuiteAnalyzer.Analyze([("strong", strong), ("mid", mid), ("weak", weak)], 4);

        Assert.Equal([1.2, 3, 5, 9], suite.VerificationCostProfile!);
        static double F(double a, int g) => Enumerable.Range(0, g + 1).Sum(k => Math.Pow(a, k));
        double[] v = [1.2, 3, 5, 9];
        foreach (var (task, alpha) in suite.Tasks.Zip(new[] { 0.9, 0.5, 0.1 }))
        {
            var expected = new[] { 1.0 }.Concat(Enumerable.Range(1, 4).Select(g => F(alpha, g) / ((0.1 * g) + v[g - 1]))).ToArray();
            Assert.Equal(expected.Length, task.PredictedSpeedupByGamma!.Length);
            for (var g = 0; g < expected.Length; g++)
            {
                Assert.Equal(expected[g], task.PredictedSpeedupByGamma[g], 12);
            }
        }

        // By hand: α = 0.9: γ=1 1.9/1.3 = 1.4615, γ=2 2.71/3.2 = 0.847 → γ* = 1. α = 0.5: γ=1 1.5/1.3 = 1.1538 → γ* = 1.
        // α = 0.1: γ=1 1.1/1.3 = 0.846 < 1 → γ* = 0 (plain decoding).
        Assert.Equal((1, 1, 0), (suite.Tasks[0].OptimalGamma!.Value, suite.Tasks[1].OptimalGamma!.Value, suite.Tasks[2].OptimalGamma!.Value));
        Assert.Equal(1.9 / 1.3, suite.Tasks[0].OptimalGammaSpeedup!.Value, 12);
        Assert.Equal(1.0, suite.Tasks[2].OptimalGammaSpeedup!.Value);
    }

    [Fact]
    public void Analyze_ProfileCheaperThanTheDecodeLoop_IsAnchoredOnTheLoop()
    {
        // Back-to-back calls say v_4 = 9, the decode loop measured v_4 = 2: v'_k = 1 + (v_k − 1)·(2 − 1)/(9 − 1).
        var prompts = Enumerable.Range(0, 3).Select(i => Prompt(i, 0.5, [1, 1.2, 3, 5, 9], loopRatio: 2)).ToList();
        var suite = SuiteAnalyzer.Analyze([("t", prompts)], 4);

        Assert.Equal(2.0, suite.VerificationCostRatio, 12);
        double[] expected = [1.025, 1.25, 1.5, 2.0];
        for (var g = 0; g < 4; g++)
        {
            Assert.Equal(expected[g], suite.VerificationCostProfile![g], 12);
        }

        // At the run's γ the prediction is the refined one.
        Assert.Equal(suite.Tasks[0].RefinedSpeedup, suite.Tasks[0].PredictedSpeedupByGamma![4], 12);
    }

    [Fact]
    public void Analyze_GatedRun_EachTaskAtItsOwnGamma()
    {
        // Suite γ = 4: "full" drafted at 4 (loop v_4 = 9, the profile's own: no anchoring), "short" at 2 (its steps cost
        // v = 3 in the loop, which must not enter v_4), "plain" decoded without the drafter.
        double[] profile = [1, 1.2, 3, 5, 9];
        var full = Enumerable.Range(0, 3).Select(i => Prompt(i, 0.8, profile, loopRatio: 9)).ToList();
        var shorter = Enumerable.Range(0, 3).Select(i => Prompt(i, 0.6, profile, loopRatio: 3) with { ProposedAt = [4, 4], AcceptedAt = [2, 2], ReachedAt = [4, 2] }).ToList();
        var plain = Enumerable.Range(0, 3).Select(i => Prompt(i, 0.2, profile, loopRatio: 1.2) with { Plain = true, ProposedAt = [4], AcceptedAt = [2], ReachedAt = [4] }).ToList();
        var suite = SuiteAnalyzer.Analyze(
            [("full", full), ("short", shorter), ("plain", plain)], 4,
            new SuiteAnalysisOptions { TaskGammas = new Dictionary<string, int> { ["short"] = 2, ["plain"] = 0 } });

        static double F(double a, int g) => Enumerable.Range(0, g + 1).Sum(k => Math.Pow(a, k));
        Assert.Equal(9.0, suite.VerificationCostRatio, 12);
        Assert.Equal(0.1, suite.CostRatio, 12);
        var (f, s, p) = (suite.Tasks[0], suite.Tasks[1], suite.Tasks[2]);
        Assert.Equal((4, 2, 0), (f.Gamma, s.Gamma, p.Gamma));
        Assert.Equal(F(0.8, 4) / (0.4 + 9), f.RefinedSpeedup, 12);
        Assert.Equal(F(0.6, 2) / (0.2 + 3), s.RefinedSpeedup, 12);
        Assert.Equal(F(0.6, 2) / 1.2, s.AnalyticalSpeedup, 12);
        Assert.Equal((1.0, 1.0, 1.0), (p.AnalyticalSpeedup, p.RefinedSpeedup, p.ExpectedSpeedupPerPrefix));
        Assert.Equal(2, s.AcceptanceRateByPosition.Length);
        Assert.Single(p.AcceptanceRateByPosition);
    }

    [Fact]
    public void Analyze_CheapVerification_PaysAtTheLongestDraft()
    {
        // A memory-bound verifier: every call costs the same (v_γ = 1), and α = 0.9 → f grows with γ, so γ* = G.
        var prompts = Enumerable.Range(0, 3).Select(i => Prompt(i, 0.9, [2, 2, 2, 2, 2])).ToList();
        var task = SuiteAnalyzer.Analyze([("t", prompts)], 4).Tasks[0];
        Assert.Equal(4, task.OptimalGamma);
        Assert.Equal((1 + 0.9 + 0.81 + 0.729 + 0.6561) / 1.4, task.OptimalGammaSpeedup!.Value, 12);
    }

    [Fact]
    public void TaskRunner_RecordsOneVerifierCallPerSize()
    {
        // A verifier that sleeps 3 ms per position it scores: each timed call of n positions lasts at least 3n ms.
        var (drafter, verifier) = SyntheticPair.Create(16, 0.7, seed: 2);
        var records = new List<TraceRecord>();
        var options = new DecodingOptions { Gamma = 3, MaxNewTokens = 6, Seed = 1, Sampling = new SamplingOptions { Temperature = 1 } };
        new TaskRunner(drafter, new Slow(verifier, 3), options).Run([[1, 2, 3]], new Sink(records));

        var profile = records.OfType<PromptTrace>().Single().VerifierCallMs!;
        Assert.Equal(4, profile.Length);
        for (var n = 1; n <= 4; n++)
        {
            Assert.True(profile[n - 1] >= 3 * n, $"call of {n} positions took {profile[n - 1]} ms");
        }
    }

    [Fact]
    public void Analyze_StepCostProfile_PredictsEveryGammaFromItsOwnTimedSteps()
    {
        // Baseline: 10 ms per token. Steps at γ = 1 … 4 timed at 13, 16, 19, 22 ms → s_γ = 1.3, 1.6, 1.9, 2.2; one prompt's
        // preempted profile must not move the medians. The verifier cost profile is present too and must not be used.
        double[] steps = [13, 16, 19, 22];
        double[] preempted = [13, 160, 19, 220];
        var prompts = Enumerable.Range(0, 5).Select(i => Prompt(i, 0.7, [1, 1.2, 3, 5, 9]) with { StepMsByGamma = i == 3 ? preempted : steps }).ToList();

        var suite = SuiteAnalyzer.Analyze([("t", prompts)], 4);

        double[] s = [1.3, 1.6, 1.9, 2.2];
        for (var g = 0; g < 4; g++)
        {
            Assert.Equal(s[g], suite.StepCostProfile![g], 12);
        }

        static double F(double a, int g) => Enumerable.Range(0, g + 1).Sum(k => Math.Pow(a, k));
        var task = suite.Tasks[0];
        Assert.Equal(1.0, task.PredictedSpeedupByGamma![0]);
        for (var g = 1; g <= 4; g++)
        {
            Assert.Equal(F(0.7, g) / s[g - 1], task.PredictedSpeedupByGamma[g], 12);
        }

        // By hand: 1.7/1.3 = 1.308, 2.19/1.6 = 1.369, 2.533/1.9 = 1.333, 2.773/2.2 = 1.261 → γ* = 2.
        Assert.Equal(2, task.OptimalGamma);
        Assert.Equal(Core.Mitigation.DraftLength.Best(0.7, s), task.OptimalGamma);
    }

    [Fact]
    public void TaskRunner_StepProfile_TimesEveryGammaInTheLoop_OnTheFirstPromptsOnly()
    {
        // The verifier sleeps 3 ms per position: a step at γ verifies γ + 1 positions (fewer only where the budget cuts
        // the draft short), so a step lasts at least 3 ms and about 3 ms more per extra draft position.
        var (drafter, verifier) = SyntheticPair.Create(16, 0.7, seed: 2);
        var records = new List<TraceRecord>();
        var options = new DecodingOptions { Gamma = 3, MaxNewTokens = 24, Seed = 1, Sampling = new SamplingOptions { Temperature = 1 } };
        new TaskRunner(drafter, new Slow(verifier, 3), options) { StepProfilePrompts = 2 }.Run([[1, 2, 3], [2, 3, 4], [3, 4, 5]], new Sink(records));

        var traces = records.OfType<PromptTrace>().ToList();
        Assert.Equal([true, true, false], traces.Select(t => t.StepMsByGamma is not null));
        foreach (var profile in traces.Take(2).Select(t => t.StepMsByGamma!))
        {
            Assert.Equal(3, profile.Length);
            Assert.True(profile[0] >= 3, $"a step at γ = 1 took {profile[0]} ms");
            Assert.True(profile[0] < profile[1] && profile[1] < profile[2], $"step times by γ: {string.Join(", ", profile)} ms");
        }

        // Without the baseline there is no token time to relate the steps to: no profile.
        records.Clear();
        new TaskRunner(drafter, verifier, options) { RunBaseline = false }.Run([[1, 2, 3]], new Sink(records));
        Assert.Null(records.OfType<PromptTrace>().Single().StepMsByGamma);
    }

    private sealed class Slow(ILanguageModel inner, int msPerPosition) : ILanguageModel
    {
        public string Name => inner.Name;

        public int VocabularySize => inner.VocabularySize;

        public int ContextLength => inner.ContextLength;

        public IModelSequence CreateSequence() => new Sequence(inner.CreateSequence(), msPerPosition);

        public void Dispose() => inner.Dispose();

        private sealed class Sequence(IModelSequence inner, int msPerPosition) : IModelSequence
        {
            public int Length => inner.Length;

            public void Append(ReadOnlySpan<int> tokens, Span<float> logits)
            {
                if (!logits.IsEmpty)
                {
                    Thread.Sleep(msPerPosition * tokens.Length);
                }

                inner.Append(tokens, logits);
            }

            public void Truncate(int length) => inner.Truncate(length);

            public void Dispose() => inner.Dispose();
        }
    }

    private sealed class Sink(List<TraceRecord> records) : ITraceSink
    {
        public void Write(TraceRecord record) => records.Add(record);
    }
}
