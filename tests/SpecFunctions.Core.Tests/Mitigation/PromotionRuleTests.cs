using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Tests.Mitigation;

/// <summary>The promotion rules of method.md §6 as pure functions of two reports (no Durable engine, no store).</summary>
public class PromotionRuleTests
{
    private const int Gamma = 4;
    private const double C = 0.1;
    private const double Tolerance = 0.02;

    private static readonly ModelIdentity _newDrafter = new() { Name = "d", Sha256 = new string('a', 64) };
    private static readonly ModelIdentity _oldDrafter = new() { Name = "d", Sha256 = new string('b', 64) };

    private static double S(double alpha) => SpeculativeMath.AnalyticalSpeedup(alpha, Gamma, C);

    // Reports carry α per task; S_T is f_γ(α)/(1+γc) at the "before" run's c, as in the real runs. The "after" report
    // claims another c, which the rule must ignore.
    private static EvaluationReport Report(double unfairness, double costRatio, double[] alphas, double?[]? measured = null, int?[]? gammas = null) => new()
    {
        RunId = "r",
        Drafter = _oldDrafter,
        Suite = new SuiteReport
        {
            Gamma = Gamma,
            CostRatio = costRatio,
            VerificationCostRatio = 1.1,
            Fairness = new FairnessReport { Unfairness = unfairness, MeanCrossEntropy = 1, SpeedupVariance = 0, SpeedupRange = 0, MinMaxSpeedupRatio = 1, MeanSpeedup = 1, WorstTask = "a" },
        },
        Tasks = [.. alphas.Select((a, i) => new TaskReport
        {
            TaskId = ((char)('a' + i)).ToString(), Status = TaskState.Committed, Prompts = 10 + i, Steps = 1, DraftedTokens = 4, AcceptedTokens = 2, GeneratedTokens = 3,
            AcceptanceRate = 0.5, Alpha = a, CrossEntropy = 1, Kl = 0.5, MeanAcceptedLength = 2,
            AnalyticalSpeedup = SpeculativeMath.AnalyticalSpeedup(a, Gamma, costRatio), ExpectedSpeedupPerPrefix = 1,
            RefinedSpeedup = 2 * a, MeasuredSpeedup = measured is null ? 0.5 : measured[i], SpeedupBound = 1, SpeedupBoundCrossEntropy = 1,
            AcceptanceRateByPosition = [0.5], AcceptedPastPosition = [0.5], Gamma = gammas?[i],
        })],
    };

    private static IReadOnlyList<MitigationTaskData> Data(int tasks) =>
        [.. Enumerable.Range(0, tasks).Select(i => new MitigationTaskData(((char)('a' + i)).ToString(), 20 + i, 10 + i, 0))];

    [Theory]
    [InlineData(0.40, 0.20, new[] { 0.8, 0.3 }, new[] { 0.78, 0.5 }, true)]   // U fell, the weak task gained more than the strong one lost
    [InlineData(0.40, 0.20, new[] { 0.8, 0.3 }, new[] { 0.795, 0.3 }, true)]  // U fell, mean S_T −0.4 % (within 2 %)
    [InlineData(0.40, 0.20, new[] { 0.8, 0.3 }, new[] { 0.6, 0.35 }, false)]  // U fell, mean S_T fell more than 2 %
    [InlineData(0.40, 0.45, new[] { 0.8, 0.3 }, new[] { 0.9, 0.5 }, false)]   // U rose
    [InlineData(0.40, 0.40, new[] { 0.8, 0.3 }, new[] { 0.9, 0.5 }, false)]   // U unchanged
    public void Compare_PromotesOnlyWhenUFellAndSpeedHeld(double uBefore, double uAfter, double[] before, double[] after, bool promoted)
    {
        var (report, isPromoted, reason) = PromotionRule.Compare(
            Report(uBefore, C, before), Report(uAfter, 0.5, after), MitigationStrategies.SCdf, Tolerance, _newDrafter, Data(before.Length));

        Assert.Equal(promoted, isPromoted);
        Assert.Equal(promoted, report.Promoted);
        Assert.Equal((uBefore, uAfter), (report.UnfairnessBefore, report.UnfairnessAfter));
        Assert.Equal(before.Average(S), report.MeanSpeedupBefore, 12);
        Assert.Equal(after.Average(S), report.MeanSpeedupAfter, 12);
        Assert.Equal(after.Select(S), report.Tasks.Select(t => t.SpeedupAfter));
        Assert.Equal(before.Length, report.Tasks.Count);
        Assert.Equal("analytical", report.SpeedupKind);
        Assert.Equal(promoted, reason.StartsWith("U ", StringComparison.Ordinal));
    }

    [Fact]
    public void Compare_ReportsTheDataAndBothDrafters_PerTask()
    {
        var (report, _, _) = PromotionRule.Compare(
            Report(0.4, C, [0.8, 0.3]), Report(0.2, C, [0.79, 0.5]), MitigationStrategies.Balanced, Tolerance, _newDrafter, Data(2));

        Assert.Equal(MitigationStrategies.Balanced, report.Strategy);
        Assert.Equal((_oldDrafter, _newDrafter), (report.DrafterBefore, report.DrafterAfter));
        Assert.Equal([20, 21], report.Tasks.Select(t => t.TrainingPrompts));
        Assert.Equal([10, 11], report.Tasks.Select(t => t.EvaluationPrompts));
        Assert.All(report.Tasks, t => Assert.Equal(0, t.PromptOverlap));
        Assert.Equal(S(0.3) / S(0.8), report.MinMaxSpeedupRatioBefore!.Value, 12);
    }

    [Theory]
    [InlineData(new[] { 1.2, 0.8 }, new[] { 1.18, 0.95 }, true)]   // worst task 0.80 → 0.95, mean 1.000 → 1.065
    [InlineData(new[] { 1.2, 0.8 }, new[] { 1.0, 0.85 }, false)]   // worst rose, mean 1.000 → 0.925 (−7.5 %)
    [InlineData(new[] { 1.2, 0.8 }, new[] { 1.5, 0.8 }, false)]    // mean rose, worst did not
    public void CompareGating_AdoptsDraftLengthsOnlyWhenTheWorstMeasuredTaskRoseAndTheMeanHeld(double[] before, double[] after, bool promoted)
    {
        var (report, isPromoted, reason) = PromotionRule.Compare(
            Report(0.4, C, [0.8, 0.3], [.. before.Select(v => (double?)v)]),
            Report(0.9, C, [0.8, 0.3], [.. after.Select(v => (double?)v)], gammas: [4, 0]),
            MitigationStrategies.Gating, Tolerance, _oldDrafter, Data(2));

        Assert.Equal(promoted, isPromoted);
        Assert.Equal("measured", report.SpeedupKind);
        Assert.Equal(before.Average(), report.MeanSpeedupBefore, 12);
        Assert.Equal(after.Average(), report.MeanSpeedupAfter, 12);
        Assert.Equal([Gamma, Gamma], report.Tasks.Select(t => t.GammaBefore));
        Assert.Equal([4, 0], report.Tasks.Select(t => t.GammaAfter));
        // U rose 0.4 → 0.9 and does not matter to gating: the drafter is the same.
        Assert.Equal(promoted, reason.StartsWith("per-task draft lengths adopted", StringComparison.Ordinal));
    }

    [Fact]
    public void CompareGating_WithoutMeasuredSpeedups_JudgesTheRefinedPrediction()
    {
        var (report, isPromoted, _) = PromotionRule.Compare(
            Report(0.4, C, [0.8, 0.3], [null, null]), Report(0.4, C, [0.8, 0.45], [null, null]),
            MitigationStrategies.Gating, Tolerance, _oldDrafter, Data(2));

        Assert.Equal("refined", report.SpeedupKind);
        Assert.Equal([1.6, 0.9], report.Tasks.Select(t => t.SpeedupAfter).Select(v => Math.Round(v, 12)));
        Assert.True(isPromoted);
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
