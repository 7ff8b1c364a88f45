using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Mitigation;

/// <summary>Settings of <see cref="PromotionRule"/>.</summary>
public sealed record PromotionSettings
{
    /// <summary>
    /// How much slower a task may get: every task's paired interval of measured after / before must have its lower end at
    /// or above 1 − margin. Default 0.05 (method.md §6 step 5).
    /// </summary>
    public double SpeedupMargin { get; init; } = 0.05;

    /// <summary>Paired bootstrap resamples over prompts. Default 1000.</summary>
    public int Resamples { get; init; } = 1000;

    /// <summary>Confidence level of every interval the rule reads. Default 0.95.</summary>
    public double ConfidenceLevel { get; init; } = 0.95;

    /// <summary>Bootstrap seed. Default 1.</summary>
    public int Seed { get; init; } = 1;
}

/// <summary>One run as the promotion rule reads it: its report and each task's per-prompt statistics.</summary>
public sealed record RunStatistics(EvaluationReport Report, IReadOnlyDictionary<string, IReadOnlyList<PromptStatistics>> Prompts);

/// <summary>What <see cref="PromotionRule.Compare"/> decided.</summary>
public sealed record PromotionResult(MitigationReport Report, bool Promoted, string Reason);

/// <summary>
/// Whether a mitigation's result replaces what is served (method.md §6 step 5: promote only what is shown to help): a
/// pure function of the "before" and "after" runs' per-prompt statistics, judged by a paired bootstrap over the
/// evaluation prompts (both runs measured the same prompts; every resample draws the same prompts for both).
/// <list type="number">
/// <item>(a) The target improved, with the interval of the change excluding 0: U fell (a new drafter), or, for gating,
/// whose drafter is unchanged so that U cannot move, the worst task's measured speed-up rose.</item>
/// <item>(b) No task is worse off: for every task, the lower end of the interval of measured after / before is at least
/// 1 − margin.</item>
/// </list>
/// Only interval ends decide, never a point estimate: a reading too noisy to judge has a low lower end and refuses by
/// itself. Runs without a baseline judge α-based predictions instead (analytical S_T at the "before" run's c; gating:
/// the refined prediction), and the report says which kind decided.
/// </summary>
public static class PromotionRule
{
    /// <summary>Applies the rule to two runs of the same suite and returns the before/after report, the verdict and its reason.</summary>
    public static PromotionResult Compare(
        RunStatistics before, RunStatistics after, string strategy, ModelIdentity drafterAfter, IReadOnlyList<MitigationTaskData> data, PromotionSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        settings ??= new PromotionSettings();
        var gating = strategy == MitigationStrategies.Gating;
        var afterTasks = after.Report.Tasks.ToDictionary(t => t.TaskId, StringComparer.Ordinal);
        var tasks = before.Report.Tasks
            .Where(t => afterTasks.ContainsKey(t.TaskId) && before.Prompts.ContainsKey(t.TaskId) && after.Prompts.ContainsKey(t.TaskId))
            .Select(t => PairedTask.Create(t, afterTasks[t.TaskId], before, after, gating))
            .ToList();
        if (tasks.Count == 0)
        {
            throw new InvalidDataException($"runs '{before.Report.RunId}' and '{after.Report.RunId}' share no task with prompt statistics to compare");
        }

        var measured = tasks.All(t => t.Measured);
        var kind = measured ? "measured" : gating ? "refined" : "analytical";
        var m = tasks.Count;

        // Per resample: [0] the target's change (ΔU, or the change of the worst task's speed-up), [1 + i] task i's after/before.
        void Statistics(int[][] counts, double[] values)
        {
            double[] dBefore = new double[m], dAfter = new double[m], sBefore = new double[m], sAfter = new double[m];
            for (var i = 0; i < m; i++)
            {
                (dBefore[i], dAfter[i], sBefore[i], sAfter[i]) = tasks[i].Resample(counts[i], measured);
                values[1 + i] = sAfter[i] / sBefore[i];
            }

            values[0] = gating ? sAfter.Min() - sBefore.Min() : FairnessMetrics.UnfairnessOf(dAfter) - FairnessMetrics.UnfairnessOf(dBefore);
        }

        var ones = Enumerable.Range(0, m).Select(i => Enumerable.Repeat(1, tasks[i].Units).ToArray()).ToArray();
        var point = new double[1 + m];
        Statistics(ones, point);
        var intervals = Bootstrap.Stratified([.. tasks.Select(t => t.Units)], 1 + m, Statistics, settings.Resamples, settings.ConfidenceLevel, settings.Seed);

        var targetShown = gating ? intervals[0].Lower > 0 : intervals[0].Upper < 0;
        var floor = 1 - settings.SpeedupMargin;
        var rows = data.ToDictionary(d => d.TaskId, StringComparer.Ordinal);
        var taskRows = tasks.Select((t, i) =>
        {
            var (_, _, sBefore, sAfter) = t.Resample(ones[i], measured);
            var row = new MitigationTaskReport
            {
                TaskId = t.Before.TaskId,
                AlphaBefore = t.Before.Alpha,
                AlphaAfter = t.After.Alpha,
                CrossEntropyBefore = t.Before.CrossEntropy,
                CrossEntropyAfter = t.After.CrossEntropy,
                SpeedupBefore = sBefore,
                SpeedupAfter = sAfter,
                EvaluationPrompts = t.Units,
                SpeedupRatio = point[1 + i],
                SpeedupRatioCi = Interval(intervals[1 + i], settings.ConfidenceLevel),
                NoWorseOff = intervals[1 + i].Lower >= floor,
            };
            row = row with
            {
                TrainingPrompts = rows.TryGetValue(t.Before.TaskId, out var d) ? d.TrainingPrompts : 0,
                PromptOverlap = d?.Overlap ?? 0,
                DevPrompts = d?.DevPrompts ?? 0,
            };
            return gating
                ? row with { GammaBefore = t.Before.Gamma ?? before.Report.Suite.Gamma, GammaAfter = t.After.Gamma ?? after.Report.Suite.Gamma, DevAlpha = d?.DevAlpha }
                : row;
        }).ToList();

        var worseOff = taskRows.Where(r => !r.NoWorseOff).OrderBy(r => r.SpeedupRatioCi?.Lower ?? double.NegativeInfinity).ToList();
        var promoted = targetShown && worseOff.Count == 0;
        var target = gating ? PromotionCondition.WorstTaskRose : PromotionCondition.UnfairnessFell;
        var decidedBy = !targetShown ? target : worseOff.Count > 0 ? PromotionCondition.NoTaskWorseOff : PromotionCondition.Both;
        var level = $"{settings.ConfidenceLevel:P0}";
        var change = gating
            ? $"the worst task's {kind} speed-up {taskRows.Min(r => r.SpeedupBefore):F3} → {taskRows.Min(r => r.SpeedupAfter):F3} (change {point[0]:+0.000;-0.000} [{intervals[0].Lower:+0.000;-0.000}, {intervals[0].Upper:+0.000;-0.000}])"
            : $"U {before.Report.Suite.Fairness.Unfairness:G4} → {after.Report.Suite.Fairness.Unfairness:G4} (ΔU {point[0]:+0.####;-0.####} [{intervals[0].Lower:+0.####;-0.####}, {intervals[0].Upper:+0.####;-0.####}])";
        var kept = gating ? $"kept γ = {before.Report.Suite.Gamma} on every task" : "kept the current drafter";
        var lowest = taskRows.MinBy(r => r.SpeedupRatioCi?.Lower ?? double.NegativeInfinity)!;
        var reason = decidedBy switch
        {
            PromotionCondition.Both => $"{(gating ? "per-task draft lengths adopted" : "promoted")}: {change} at {level}, and no task worse off " +
                $"(lowest {kind} after/before: {lowest.TaskId} {Ratio(lowest)} ≥ {floor:0.###})",
            PromotionCondition.NoTaskWorseOff => $"{kept}: {string.Join("; ", worseOff.Select(r => $"{r.TaskId}'s {kind} speed-up after/before {Ratio(r)}"))} " +
                $"{(worseOff.Count == 1 ? "is" : "are")} not shown to stay above 1 − {settings.SpeedupMargin:0.###} at {level}, although {change}",
            _ => $"{kept}: {change}, whose {level} interval does not exclude 0",
        };

        var speedupsBefore = taskRows.Select(r => r.SpeedupBefore).ToList();
        var speedupsAfter = taskRows.Select(r => r.SpeedupAfter).ToList();
        var report = new MitigationReport
        {
            Strategy = strategy,
            SpeedupKind = kind,
            UnfairnessBefore = before.Report.Suite.Fairness.Unfairness,
            UnfairnessAfter = after.Report.Suite.Fairness.Unfairness,
            MeanSpeedupBefore = speedupsBefore.Average(),
            MeanSpeedupAfter = speedupsAfter.Average(),
            MinMaxSpeedupRatioBefore = speedupsBefore.Min() / speedupsBefore.Max(),
            MinMaxSpeedupRatioAfter = speedupsAfter.Min() / speedupsAfter.Max(),
            Promoted = promoted,
            DrafterBefore = before.Report.Drafter,
            DrafterAfter = drafterAfter,
            Tasks = taskRows,
            Rule = new PromotionReport
            {
                Target = target,
                TargetChange = point[0],
                TargetChangeCi = Interval(intervals[0], settings.ConfidenceLevel),
                TargetShown = targetShown,
                SpeedupMargin = settings.SpeedupMargin,
                Resamples = settings.Resamples,
                DecidedBy = decidedBy,
                Reason = reason,
            },
        };
        return new PromotionResult(report, promoted, reason);

        static string Ratio(MitigationTaskReport r) =>
            $"{r.SpeedupRatio:F3} [{r.SpeedupRatioCi?.Lower:F3}, {r.SpeedupRatioCi?.Upper:F3}]";
    }

    private static IntervalReport Interval(ConfidenceInterval ci, double level) => new() { Lower = ci.Lower, Upper = ci.Upper, Level = level };

    /// <summary>One task's prompts in both runs, matched by prompt index, with each run's α → speed-up prediction.</summary>
    private sealed record PairedTask(
        TaskReport Before, TaskReport After, PromptStatistics[] PromptsBefore, PromptStatistics[] PromptsAfter,
        Func<double, double> PredictedBefore, Func<double, double> PredictedAfter)
    {
        public int Units => PromptsBefore.Length;

        /// <summary>Both runs timed a baseline of every prompt, so the measured speed-up exists on both sides.</summary>
        public bool Measured => HasBaseline(PromptsBefore) && HasBaseline(PromptsAfter);

        public static PairedTask Create(TaskReport before, TaskReport after, RunStatistics beforeRun, RunStatistics afterRun, bool gating)
        {
            var afterByPrompt = afterRun.Prompts[before.TaskId].ToDictionary(p => p.Prompt);
            var shared = beforeRun.Prompts[before.TaskId].Where(p => afterByPrompt.ContainsKey(p.Prompt)).OrderBy(p => p.Prompt).ToArray();
            if (shared.Length == 0)
            {
                throw new InvalidDataException($"task '{before.TaskId}' has no evaluation prompt measured in both runs");
            }

            // One c for both sides when the drafter changed (its architecture, hence its cost, did not): timing noise
            // stays out of the α-based fallback. Gating changes the draft length, so each side uses its own γ and v_γ.
            var suite = beforeRun.Report.Suite;
            Func<double, double> Predicted(TaskReport task, SuiteReport runSuite) => gating
                ? RefinedAt(task.Gamma ?? runSuite.Gamma, suite.CostRatio, suite)
                : alpha => SpeculativeMath.AnalyticalSpeedup(alpha, suite.Gamma, suite.CostRatio);
            return new PairedTask(
                before, after, shared, [.. shared.Select(p => afterByPrompt[p.Prompt])],
                Predicted(before, suite), Predicted(after, afterRun.Report.Suite));
        }

        /// <summary>D_T and the speed-up of both sides under one draw of prompt counts.</summary>
        public (double DBefore, double DAfter, double SBefore, double SAfter) Resample(int[] counts, bool measured) =>
            (CrossEntropy(PromptsBefore, counts), CrossEntropy(PromptsAfter, counts),
             measured ? SuiteAnalyzer.MeasuredSpeedup(PromptsBefore, counts) : PredictedBefore(Alpha(PromptsBefore, counts)),
             measured ? SuiteAnalyzer.MeasuredSpeedup(PromptsAfter, counts) : PredictedAfter(Alpha(PromptsAfter, counts)));

        private static bool HasBaseline(PromptStatistics[] prompts) =>
            prompts.All(p => p.BaselineMs is not null && p.BaselineTokens > 0 && p.GeneratedTokens > 0);

        private static double CrossEntropy(PromptStatistics[] prompts, int[] counts) => PerPosition(prompts, counts, p => p.CrossEntropySum);

        private static double Alpha(PromptStatistics[] prompts, int[] counts) => PerPosition(prompts, counts, p => p.AlphaSum);

        /// <summary>A per-position mean (Σ count · sum / Σ count · positions) under one draw of prompt counts.</summary>
        private static double PerPosition(PromptStatistics[] prompts, int[] counts, Func<PromptStatistics, double> sum)
        {
            double total = 0, positions = 0;
            for (var i = 0; i < prompts.Length; i++)
            {
                total += counts[i] * sum(prompts[i]);
                positions += counts[i] * prompts[i].Positions;
            }

            return total / positions;
        }

        /// <summary>The refined prediction at draft length γ (0: plain decoding, 1), v_γ from the run's cost profile.</summary>
        private static Func<double, double> RefinedAt(int gamma, double costRatio, SuiteReport suite)
        {
            if (gamma == 0)
            {
                return _ => 1;
            }

            var v = gamma == suite.Gamma || suite.VerificationCostProfile is not { } profile || gamma > profile.Count
                ? suite.VerificationCostRatio
                : profile[gamma - 1];
            return alpha => SpeculativeMath.RefinedSpeedup(alpha, gamma, costRatio, v);
        }
    }
}
