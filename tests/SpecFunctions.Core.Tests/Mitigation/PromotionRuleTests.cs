using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Tests.Mitigation;

/// <summary>
/// The promotion rule of method.md §6 step 5 as a pure function of two runs' per-prompt statistics: a paired bootstrap
/// over prompts, (a) the target's change excluding 0, (b) every task's after/before at or above 1 − margin. The runs
/// are synthetic and seeded (per-prompt noise of a few percent, as this machine's timings show); no engine, no store.
/// </summary>
public class PromotionRuleTests
{
    private const int Gamma = 4;
    private const double C = 0.1;
    private const int PromptsPerTask = 24;

    private static readonly ModelIdentity _newDrafter = new() { Name = "d", Sha256 = new string('a', 64) };
    private static readonly ModelIdentity _oldDrafter = new() { Name = "d", Sha256 = new string('b', 64) };
    private static readonly string[] _tasks = ["de", "en", "ru"];

    /// <summary>One task's true values: D_T, α_T and per-token times (ms) of the baseline and the speculative arm.</summary>
    private sealed record TaskTruth(double CrossEntropy, double Alpha, double BaselineMs, double SpeculativeMs, bool Timed = true);

    /// <summary>A run: per prompt, the truth times (1 + noise); the report is computed from the prompts as a real run's is.</summary>
    private static RunStatistics Run(int seed, IReadOnlyList<TaskTruth> truths, double noise = 0.03, double costRatio = C, int?[]? gammas = null, ModelIdentity? drafter = null)
    {
        var random = new Random(seed);
        double Noisy(double value) => value * (1 + noise * Gaussian(random));
        var tasks = truths.Select((truth, t) => (_tasks[t], (IReadOnlyList<PromptStatistics>)[.. Enumerable.Range(0, PromptsPerTask).Select(p =>
        {
            const int tokens = 32;
            return new PromptStatistics
            {
                Prompt = p, Steps = 10, Drafted = 40, Accepted = 20, Emitted = 30, Positions = tokens, FromReference = true,
                AlphaSum = tokens * Math.Clamp(Noisy(truth.Alpha), 0, 1),
                CrossEntropySum = tokens * Noisy(truth.CrossEntropy),
                KlSum = tokens * 0.5 * truth.CrossEntropy,
                PerPrefixTokensSum = tokens,
                GeneratedTokens = tokens,
                SpeculativeMs = tokens * Noisy(truth.SpeculativeMs),
                BaselineMs = truth.Timed ? tokens * Noisy(truth.BaselineMs) : null,
                BaselineTokens = truth.Timed ? tokens : null,
                DrafterMs = 1, DrafterCalls = 10, VerifierMs = 10,
            };
        })])).ToList();
        var options = new SuiteAnalysisOptions
        {
            CostRatio = costRatio, VerificationCostRatio = 1.1, BootstrapResamples = 50,
            TaskGammas = gammas is null ? null : _tasks.Zip(gammas).Where(g => g.Second is not null).ToDictionary(g => g.First, g => g.Second!.Value),
        };
        var report = ReportBuilder.FromMetrics("r" + seed, SuiteAnalyzer.Analyze(tasks, Gamma, options)) with { Drafter = drafter ?? _oldDrafter };
        return new RunStatistics(report, tasks.ToDictionary(t => t.Item1, t => t.Item2));
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static IReadOnlyList<MitigationTaskData> Data() => [.. _tasks.Select((t, i) => new MitigationTaskData(t, 20 + i, PromptsPerTask, 0, 4))];

    // Before: ru is served poorly (high D_T, low α, slow). After a good s-CDF: ru's D_T fell towards the others', its
    // α and speed rose, the others held.
    private static readonly TaskTruth[] _before = [new(1.0, 0.70, 10, 5.0), new(0.9, 0.75, 10, 4.8), new(2.0, 0.40, 10, 8.0)];
    private static readonly TaskTruth[] _improved = [new(1.0, 0.70, 10, 5.0), new(0.9, 0.75, 10, 4.8), new(1.3, 0.60, 10, 6.0)];

    [Fact]
    public void Compare_UFellAndNoTaskWorseOff_Promotes_WithTheIntervalsInTheReport()
    {
        var (report, promoted, reason) = PromotionRule.Compare(Run(1, _before), Run(2, _improved, drafter: _newDrafter), MitigationStrategies.SCdf, _newDrafter, Data());

        Assert.True(promoted);
        var rule = report.Rule!;
        Assert.Equal((PromotionCondition.UnfairnessFell, PromotionCondition.Both, true), (rule.Target, rule.DecidedBy, rule.TargetShown));
        Assert.Equal(reason, rule.Reason);
        Assert.StartsWith("promoted: U ", reason, StringComparison.Ordinal);
        // ΔU: true U before = Var(1.0, 0.9, 2.0) = 0.2467, after = Var(1.0, 0.9, 1.3) = 0.0289 → ΔU ≈ −0.218.
        Assert.InRange(rule.TargetChange, -0.24, -0.20);
        Assert.True(rule.TargetChangeCi.Lower <= rule.TargetChange && rule.TargetChange <= rule.TargetChangeCi.Upper);
        Assert.True(rule.TargetChangeCi.Upper < 0);
        Assert.Equal(report.UnfairnessAfter - report.UnfairnessBefore, rule.TargetChange, 12);
        Assert.Equal("measured", report.SpeedupKind);
        Assert.Equal(0.05, rule.SpeedupMargin);
        // ru: 8.0 / 6.0 ms per token → ×1.33; de, en ≈ ×1.
        var ru = report.Tasks.Single(t => t.TaskId == "ru");
        Assert.InRange(ru.SpeedupRatio!.Value, 1.25, 1.42);
        Assert.Equal(ru.SpeedupAfter / ru.SpeedupBefore, ru.SpeedupRatio.Value, 12);
        Assert.All(report.Tasks, t => Assert.True(t.NoWorseOff && t.SpeedupRatioCi!.Lower >= 0.95 && t.SpeedupRatioCi.Lower <= t.SpeedupRatio));
        Assert.Equal([20, 21, 22], report.Tasks.Select(t => t.TrainingPrompts));
        Assert.Equal([4, 4, 4], report.Tasks.Select(t => t.DevPrompts));
        Assert.Equal((_oldDrafter, _newDrafter), (report.DrafterBefore, report.DrafterAfter));
    }

    [Fact]
    public void Compare_OneTaskTwentyPercentSlower_IsRefused_NamingTheTask()
    {
        // The oracle of method.md §7: U falls as before, but en's speculative arm takes 25 % longer per token (measured
        // speed-up × 0.8). The mean speed-up barely moves (ru's gain hides en's loss); the rule still refuses.
        TaskTruth[] enSlower = [_improved[0], _improved[1] with { SpeculativeMs = 4.8 * 1.25 }, _improved[2]];

        var (report, promoted, reason) = PromotionRule.Compare(Run(1, _before), Run(2, enSlower, drafter: _newDrafter), MitigationStrategies.SCdf, _newDrafter, Data());

        Assert.False(promoted);
        Assert.False(report.Promoted);
        Assert.Equal(PromotionCondition.NoTaskWorseOff, report.Rule!.DecidedBy);
        Assert.True(report.Rule.TargetShown);
        Assert.StartsWith("kept the current drafter: en's measured speed-up after/before 0.", reason, StringComparison.Ordinal);
        Assert.Equal(reason, report.Rule.Reason);
        var en = report.Tasks.Single(t => t.TaskId == "en");
        Assert.InRange(en.SpeedupRatio!.Value, 0.76, 0.84);
        Assert.True(en.SpeedupRatioCi!.Upper < 0.95);
        Assert.False(en.NoWorseOff);
        Assert.All(report.Tasks.Where(t => t.TaskId != "en"), t => Assert.True(t.NoWorseOff));
    }

    [Fact]
    public void Compare_SameDrafter_UCannotFall_Kept()
    {
        // The external trainer answered with the current drafter: the same D_T per prompt, new timings.
        var before = Run(1, _before);
        var after = Run(2, _before) with { Report = before.Report with { RunId = "after" } };
        after = after with { Prompts = before.Prompts.ToDictionary(p => p.Key, p => (IReadOnlyList<PromptStatistics>)[.. p.Value.Zip(after.Prompts[p.Key], (b, a) => b with { SpeculativeMs = a.SpeculativeMs, BaselineMs = a.BaselineMs })]) };

        var (report, promoted, reason) = PromotionRule.Compare(before, after, MitigationStrategies.SCdf, _oldDrafter, Data());

        Assert.False(promoted);
        Assert.Equal(PromotionCondition.UnfairnessFell, report.Rule!.DecidedBy);
        Assert.Equal((0.0, 0.0, 0.0), (report.Rule.TargetChange, report.Rule.TargetChangeCi.Lower, report.Rule.TargetChangeCi.Upper));
        Assert.EndsWith("does not exclude 0", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_AFallOfUWithinTheNoise_IsNotPromoted()
    {
        // ru's D_T 2.0 → 1.97 with 30 % per-prompt noise: the point estimate of U falls, its paired interval spans 0.
        TaskTruth[] barely = [_before[0], _before[1], _before[2] with { CrossEntropy = 1.97 }];

        var (report, promoted, _) = PromotionRule.Compare(Run(1, _before, noise: 0.3), Run(2, barely, noise: 0.3), MitigationStrategies.SCdf, _newDrafter, Data());

        Assert.False(promoted);
        Assert.Equal(PromotionCondition.UnfairnessFell, report.Rule!.DecidedBy);
        Assert.True(report.Rule.TargetChangeCi.Lower < 0 && report.Rule.TargetChangeCi.Upper > 0);
    }

    [Fact]
    public void Compare_WithoutBaselines_JudgesAnalyticalSpeedupsAtTheBeforeRunsC()
    {
        // No arm timed a baseline: the rule reads S_T = f_γ(α)/(1 + γc) at the "before" run's c, ignoring the after
        // run's own c (the drafter's cost did not change; timing noise must not decide).
        TaskTruth[] Untimed(TaskTruth[] truths) => [.. truths.Select(t => t with { Timed = false })];

        var (report, promoted, _) = PromotionRule.Compare(
            Run(1, Untimed(_before)), Run(2, Untimed(_improved), costRatio: 0.5), MitigationStrategies.SCdf, _newDrafter, Data());

        Assert.Equal("analytical", report.SpeedupKind);
        Assert.True(promoted);
        foreach (var t in report.Tasks)
        {
            Assert.Equal(SpeculativeMath.AnalyticalSpeedup(t.AlphaAfter, Gamma, C), t.SpeedupAfter, 12);
            Assert.Equal(SpeculativeMath.AnalyticalSpeedup(t.AlphaBefore, Gamma, C), t.SpeedupBefore, 12);
        }
    }

    [Theory]
    [InlineData(8.0, 6.2, true)]    // ru (the worst task) ×1.29 faster at its γ*, the others unchanged
    [InlineData(8.0, 7.9, false)]   // ×1.01: within the noise, the worst task is not shown to have risen
    public void CompareGating_AdoptsDraftLengthsOnlyWhenTheWorstTaskIsShownToRise(double ruBefore, double ruAfter, bool adopted)
    {
        TaskTruth[] before = [_before[0], _before[1], _before[2] with { SpeculativeMs = ruBefore }];
        TaskTruth[] after = [_before[0], _before[1], _before[2] with { SpeculativeMs = ruAfter }];

        var (report, promoted, reason) = PromotionRule.Compare(
            Run(1, before), Run(2, after, gammas: [null, null, 1]), MitigationStrategies.Gating, _oldDrafter, Data());

        Assert.Equal(adopted, promoted);
        Assert.Equal(PromotionCondition.WorstTaskRose, report.Rule!.Target);
        Assert.Equal(adopted ? PromotionCondition.Both : PromotionCondition.WorstTaskRose, report.Rule.DecidedBy);
        Assert.Equal(adopted, reason.StartsWith("per-task draft lengths adopted", StringComparison.Ordinal));
        Assert.Equal([Gamma, Gamma, Gamma], report.Tasks.Select(t => t.GammaBefore));
        Assert.Equal([Gamma, Gamma, 1], report.Tasks.Select(t => t.GammaAfter));
        // The target is the change of the worst measured speed-up (ru's), not U: the drafter did not change.
        var ru = report.Tasks.Single(t => t.TaskId == "ru");
        Assert.Equal(ru.SpeedupAfter - ru.SpeedupBefore, report.Rule.TargetChange, 12);
    }

    [Fact]
    public void PairedInterval_CoversTheTrueRatio_AtAboutItsLevel()
    {
        // 300 seeded trials of one task, 24 prompts, 10 % per-prompt noise, both runs from the same truth (ratio 1).
        // A 95 % percentile bootstrap with 24 units covers a little less than 95 %; tolerance: 0.88–0.99.
        var covered = 0;
        const int trials = 300;
        for (var trial = 0; trial < trials; trial++)
        {
            TaskTruth[] truth = [new(1.0, 0.7, 10, 5), new(1.0, 0.7, 10, 5), new(1.0, 0.7, 10, 5)];
            var (report, _, _) = PromotionRule.Compare(
                Run(2 * trial, truth, noise: 0.1), Run(2 * trial + 1, truth, noise: 0.1), MitigationStrategies.SCdf, _newDrafter, Data(),
                new PromotionSettings { Resamples = 400, Seed = trial });
            var ci = report.Tasks[0].SpeedupRatioCi!;
            covered += ci.Lower <= 1 && 1 <= ci.Upper ? 1 : 0;
        }

        Assert.InRange(covered / (double)trials, 0.88, 0.99);
    }

    [Fact]
    public void Stratified_SameUnitsOnBothSides_MakesIdenticalRunsAgreeExactly()
    {
        // Paired: both "runs" read the same counts, so a statistic comparing a run with itself never varies.
        double[] values = [.. Enumerable.Range(0, 30).Select(i => 1.0 + (i % 7))];
        var intervals = Bootstrap.Stratified([30, 30], 2, (counts, result) =>
        {
            double a = 0, b = 0, n = 0;
            for (var i = 0; i < 30; i++)
            {
                a += counts[0][i] * values[i];
                b += counts[0][i] * values[i];
                n += counts[0][i];
            }

            result[0] = a / b;
            result[1] = a / n;
        }, resamples: 500, seed: 3);

        Assert.Equal((1.0, 1.0), (intervals[0].Lower, intervals[0].Upper));
        // The mean's interval: about ±1.96 σ/√n around the sample mean (σ = 2.0, n = 30 → ±0.72), within 20 %.
        var mean = values.Average();
        var sd = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        Assert.InRange((intervals[1].Upper - intervals[1].Lower) / 2, 0.8 * 1.96 * sd / Math.Sqrt(30), 1.2 * 1.96 * sd / Math.Sqrt(30));
        Assert.True(intervals[1].Lower < mean && mean < intervals[1].Upper);
    }
}

/// <summary>The dev split of a task's training prompts (method.md §6: choices from data are made on it).</summary>
public class DevSplitTests
{
    [Theory]
    [InlineData(2, 1)]
    [InlineData(5, 1)]
    [InlineData(6, 2)]   // ⌈1.2⌉
    [InlineData(10, 2)]
    [InlineData(40, 8)]
    public void DevSplit_HoldsOutTheLastFifth_AtLeastOne_NeverAll(int count, int dev)
    {
        var prompts = Enumerable.Range(0, count).Select(i => $"p{i}").ToList();

        var (train, held) = MitigationData.DevSplit(prompts);

        Assert.Equal(prompts.Take(count - dev), train);
        Assert.Equal(prompts.Skip(count - dev), held);
        Assert.Equal(dev, MitigationData.Describe([("t", ["e"], prompts)]).Single().DevPrompts);
    }

    [Fact]
    public void DevSplit_OfOnePrompt_IsThatPromptForBoth_AndOfNoneIsEmpty()
    {
        var (train, dev) = MitigationData.DevSplit(["only"]);
        Assert.Equal(["only"], train);
        Assert.Equal(["only"], dev);

        var (none, noDev) = MitigationData.DevSplit([]);
        Assert.Empty(none);
        Assert.Empty(noDev);
    }
}
