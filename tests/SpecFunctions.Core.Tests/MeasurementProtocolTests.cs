using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Models.Synthetic;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Tests;

/// <summary>
/// The measurement protocol of <see cref="TaskRunner"/>: interleaved repeats, the fastest repeat of each arm kept, one
/// trace per prompt. Slow repeats are made slow on purpose (a sleep far above a synthetic generation's cost), so which
/// repeat is kept is decided by the protocol's logic, not by this machine's noise.
/// </summary>
public sealed class MeasurementProtocolTests
{
    private static readonly DecodingOptions Options = new() { Gamma = 3, MaxNewTokens = 12, Seed = 7, Sampling = new SamplingOptions { Temperature = 1.0 } };

    [Fact]
    public void Repeats_AlternateTheArms_SpecFirstThenBaselineFirst()
    {
        var log = new List<string>();
        var (drafter, verifier) = Pair(log, _ => 0);
        new TaskRunner(drafter, verifier, Options) { Repeats = 4 }.Run([[1, 2]], new TaskStatisticsBuilder(3));

        // A speculative generation opens a drafter then a verifier sequence ("D", "V"); the baseline a verifier one ("V");
        // then the untimed reference pass a drafter and a verifier one (read as a ninth "spec"), the verifier cost
        // profile a verifier one, and the step-cost profile (the first prompts only) one speculative generation per γ.
        Assert.Equal("spec base base spec spec base base spec spec base spec spec spec", Arms(log));
    }

    [Fact]
    public void Repeats_KeepTheFastestRunOfEachArm_AndWriteOneTracePerPrompt()
    {
        var log = new List<string>();

        // Generation indices (in the order above: spec base base spec spec base): slow down the first speculative run
        // and the second and third baselines, so the kept runs are speculative repeat 2 or 3 and baseline repeat 1.
        var slow = new HashSet<int> { 0, 2, 5 };
        var (drafter, verifier) = Pair(log, g => slow.Contains(g) ? 150 : 0);
        var records = new List<TraceRecord>();
        new TaskRunner(drafter, verifier, Options) { Repeats = 3 }.Run([[1, 2], [3]], new ListSink(records));

        foreach (var prompt in records.OfType<PromptTrace>())
        {
            Assert.Equal(3, prompt.SpeculativeRepeatsMs!.Length);
            Assert.Equal(3, prompt.BaselineRepeatsMs!.Length);
            Assert.Equal(prompt.SpeculativeRepeatsMs.Min(), prompt.SpeculativeMs);
            Assert.Equal(prompt.BaselineRepeatsMs.Min(), prompt.BaselineMs);
            if (prompt.Prompt == 0)
            {
                Assert.True(prompt.SpeculativeRepeatsMs[0] >= 150, "the slowed speculative repeat was not slow");
                Assert.True(prompt.SpeculativeMs < 150, "a slowed speculative repeat was kept");
                Assert.True(prompt.BaselineMs < 150, "a slowed baseline repeat was kept");
                Assert.Equal(prompt.BaselineRepeatsMs[0], prompt.BaselineMs);
            }

            // The kept repeat's steps are written once: as many step records as the prompt's steps, numbered 0..n−1.
            var steps = records.OfType<StepTrace>().Where(s => s.Prompt == prompt.Prompt).Select(s => s.Step).ToList();
            Assert.Equal(Enumerable.Range(0, prompt.Steps), steps);
        }
    }

    [Fact]
    public void Repeats_DoNotChangeWhatIsMeasured_OnlyTheTimes()
    {
        var (drafter, verifier) = SyntheticPair.Create(24, 0.6, seed: 5);
        var once = new TaskStatisticsBuilder(3);
        var thrice = new TaskStatisticsBuilder(3);
        int[][] prompts = [[1], [2, 3], [4]];
        new TaskRunner(drafter, verifier, Options).Run(prompts, once);
        new TaskRunner(drafter, verifier, Options) { Repeats = 3 }.Run(prompts, thrice);

        foreach (var (a, b) in once.Build().Zip(thrice.Build()))
        {
            Assert.Equal((a.Steps, a.Accepted, a.Drafted, a.GeneratedTokens, a.BaselineTokens), (b.Steps, b.Accepted, b.Drafted, b.GeneratedTokens, b.BaselineTokens));
            Assert.Equal(a.AlphaSum, b.AlphaSum);
            Assert.Equal(a.CrossEntropySum, b.CrossEntropySum);
        }
    }

    [Fact]
    public void Repeats_ARepeatThatGeneratedOtherTokens_IsNeverKept()
    {
        // The second speculative run (generation 3) sees perturbed verifier logits, so it generates other tokens, and it is
        // the only fast one: the protocol must keep a run of the first repeat's work instead.
        var log = new List<string>();
        var (drafter, verifier) = Pair(log, g => g == 3 ? 0 : g is 0 or 4 ? 150 : 0, perturbed: g => g == 3);
        var records = new List<TraceRecord>();
        new TaskRunner(drafter, verifier, Options) { Repeats = 3 }.Run([[1, 2]], new ListSink(records));
        var prompt = records.OfType<PromptTrace>().Single();

        var reference = new List<TraceRecord>();
        var (cleanDrafter, cleanVerifier) = SyntheticPair.Create(24, 0.6, seed: 5);
        new TaskRunner(cleanDrafter, cleanVerifier, Options).Run([[1, 2]], new ListSink(reference));
        Assert.Equal(reference.OfType<PromptTrace>().Single().Tokens, prompt.Tokens);
        Assert.True(prompt.SpeculativeRepeatsMs![1] < prompt.SpeculativeMs, "the fast repeat generated the same tokens: the perturbation did nothing");
        Assert.Equal(Math.Min(prompt.SpeculativeRepeatsMs[0], prompt.SpeculativeRepeatsMs[2]), prompt.SpeculativeMs);
    }

    [Fact]
    public void Analyze_FlagsAMeasuredIntervalWiderThanReadable()
    {
        // Per prompt: baseline 10 ms per token; speculative 5 ms (steady task) or 2.5 / 10 ms alternating (noisy task).
        static PromptStatistics Prompt(int i, double speculativeMs) => new()
        {
            Prompt = i, Steps = 4, Drafted = 8, Accepted = 4, Emitted = 8, Positions = 8, AlphaSum = 4, CrossEntropySum = 4, KlSum = 2,
            DrafterCalls = 8, DrafterMs = 0.8, VerifierMs = 8, GeneratedTokens = 8, SpeculativeMs = speculativeMs,
            BaselineMs = 80, BaselineTokens = 8, BaselineStepMs = 10, ProposedAt = [4, 4], AcceptedAt = [2, 2], ReachedAt = [4, 2],
        };
        var steady = Enumerable.Range(0, 10).Select(i => Prompt(i, 40 * (1 + (0.01 * (i % 3))))).ToList();
        var noisy = Enumerable.Range(0, 10).Select(i => Prompt(i, i % 2 == 0 ? 20 : 80)).ToList();
        var suite = SuiteAnalyzer.Analyze([("steady", steady), ("noisy", noisy)], 2, new SuiteAnalysisOptions { ReadableHalfWidth = 0.10 });

        var s = suite.Tasks[0];
        var n = suite.Tasks[1];
        Assert.False(s.MeasuredSpeedupTooWide);
        Assert.True(n.MeasuredSpeedupTooWide);

        // Steady: speed-ups 2, 1.98, 1.96 → half-width about 1 %. Noisy: per-prompt 4× or 1× → pooled 1.6, interval
        // roughly 1.2–2.2 (a half-width near 30 %).
        Assert.InRange(s.MeasuredSpeedupHalfWidth!.Value, 0.001, 0.02);
        Assert.InRange(n.MeasuredSpeedupHalfWidth!.Value, 0.15, 0.45);
        Assert.Equal((n.MeasuredSpeedupCi!.Upper - n.MeasuredSpeedupCi.Lower) / 2 / n.MeasuredSpeedup!.Value, n.MeasuredSpeedupHalfWidth.Value, 12);
        Assert.Equal((80.0 * 10 / (8 * 10)) / (((20.0 * 5) + (80 * 5)) / (8 * 10)), n.MeasuredSpeedup.Value, 12);
    }

    private static string Arms(List<string> log)
    {
        var arms = new List<string>();
        for (var i = 0; i < log.Count; i++)
        {
            if (log[i] == "D")
            {
                arms.Add("spec");
                i++; // its verifier sequence
            }
            else
            {
                arms.Add("base");
            }
        }

        return string.Join(' ', arms);
    }

    /// <summary>
    /// A synthetic pair that logs sequence creation ("D" drafter, "V" verifier) and, per generation (spec or baseline, in
    /// order), sleeps the given milliseconds on its first verifier call or perturbs the verifier's logits.
    /// </summary>
    private static (ILanguageModel Drafter, ILanguageModel Verifier) Pair(List<string> log, Func<int, int> sleepMs, Func<int, bool>? perturbed = null)
    {
        var (drafter, verifier) = SyntheticPair.Create(24, 0.6, seed: 5);
        var generation = -1;
        var d = new Logged(drafter, () =>
        {
            log.Add("D");
            return (0, false);
        });

        // Every generation, speculative or baseline, opens exactly one verifier sequence.
        var v = new Logged(verifier, () =>
        {
            log.Add("V");
            generation++;
            return (sleepMs(generation), perturbed?.Invoke(generation) ?? false);
        });
        return (d, v);
    }

    private sealed class Logged(ILanguageModel inner, Func<(int SleepMs, bool Perturb)> onCreate) : ILanguageModel
    {
        public string Name => inner.Name;

        public int VocabularySize => inner.VocabularySize;

        public int ContextLength => inner.ContextLength;

        public IModelSequence CreateSequence()
        {
            var (sleep, perturb) = onCreate();
            return new Sequence(inner.CreateSequence(), sleep, perturb);
        }

        public void Dispose() => inner.Dispose();

        private sealed class Sequence(IModelSequence inner, int sleepMs, bool perturb) : IModelSequence
        {
            private int _sleepMs = sleepMs;

            public int Length => inner.Length;

            public void Append(ReadOnlySpan<int> tokens, Span<float> logits)
            {
                if (_sleepMs > 0)
                {
                    Thread.Sleep(_sleepMs);
                    _sleepMs = 0;
                }

                inner.Append(tokens, logits);
                if (perturb)
                {
                    for (var i = 0; i < logits.Length; i += 5)
                    {
                        logits[i] += 4f;
                    }
                }
            }

            public void Truncate(int length) => inner.Truncate(length);

            public void Dispose() => inner.Dispose();
        }
    }

    private sealed class ListSink(List<TraceRecord> records) : ITraceSink
    {
        public void Write(TraceRecord record) => records.Add(record);
    }
}
