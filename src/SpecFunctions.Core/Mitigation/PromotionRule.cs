using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Mitigation;

/// <summary>
/// Whether a mitigation's result replaces the current drafter (method.md §6): pure functions of the "before" and "after"
/// reports. <c>CompareAndPromote</c> applies them and publishes what they return; the tests call them directly.
/// </summary>
public static class PromotionRule
{
    /// <summary>
    /// The promotion rule: U fell and the mean analytical speed-up dropped by at most the tolerance (relative). Both
    /// runs' speed-ups use the "before" run's measured c, since the drafter's architecture (hence its cost) is unchanged:
    /// comparing at one c keeps timing noise out of the decision. Measured speed-ups stay in both reports.
    /// </summary>
    public static (MitigationReport Report, bool Promoted, string Reason) Compare(
        EvaluationReport before, EvaluationReport after, string strategy, double meanSpeedupTolerance, ModelIdentity drafterAfter, IReadOnlyList<MitigationTaskData> data)
    {
        if (strategy == MitigationStrategies.Gating)
        {
            return CompareGating(before, after, strategy, meanSpeedupTolerance, drafterAfter);
        }

        var gamma = before.Suite.Gamma;
        var c = before.Suite.CostRatio;
        double AfterSpeedup(TaskReport t) => SpeculativeMath.AnalyticalSpeedup(t.Alpha, gamma, c);
        var afterTasks = after.Tasks.ToDictionary(t => t.TaskId);
        var rows = data.ToDictionary(d => d.TaskId);
        var common = before.Tasks.Where(t => afterTasks.ContainsKey(t.TaskId)).ToList();
        var summary = Summarize(before, after, strategy, drafterAfter, common, t => t.AnalyticalSpeedup, AfterSpeedup, "analytical");
        var (uBefore, uAfter, sBefore, sAfter) = (summary.UnfairnessBefore, summary.UnfairnessAfter, summary.MeanSpeedupBefore, summary.MeanSpeedupAfter);
        var uFell = uAfter < uBefore;
        var speedHeld = sAfter >= sBefore * (1 - meanSpeedupTolerance);
        var promoted = uFell && speedHeld;
        var reason = promoted
            ? $"U {uBefore:G4} → {uAfter:G4} and mean S_T {sBefore:F3} → {sAfter:F3} (tolerance {meanSpeedupTolerance:P0})"
            : !uFell
                ? $"kept the current drafter: U did not fall ({uBefore:G4} → {uAfter:G4})"
                : $"kept the current drafter: mean S_T fell {sBefore:F3} → {sAfter:F3}, more than {meanSpeedupTolerance:P0}";
        var report = summary with
        {
            Tasks = [.. common.Select(t => Row(t, afterTasks[t.TaskId], t.AnalyticalSpeedup, AfterSpeedup(afterTasks[t.TaskId])) with
            {
                TrainingPrompts = rows.TryGetValue(t.TaskId, out var d) ? d.TrainingPrompts : 0,
                PromptOverlap = d?.Overlap ?? 0,
                DevPrompts = d?.DevPrompts ?? 0,
            })],
            Promoted = promoted,
        };
        return (report, promoted, reason);
    }

    /// <summary>One task's row: α_T, D_T and the given speed-ups before and after, on the evaluated run's prompts.</summary>
    private static MitigationTaskReport Row(TaskReport before, TaskReport after, double speedupBefore, double speedupAfter) => new()
    {
        TaskId = before.TaskId,
        AlphaBefore = before.Alpha,
        AlphaAfter = after.Alpha,
        CrossEntropyBefore = before.CrossEntropy,
        CrossEntropyAfter = after.CrossEntropy,
        SpeedupBefore = speedupBefore,
        SpeedupAfter = speedupAfter,
        EvaluationPrompts = before.Prompts,
    };

    /// <summary>The figures both rules report: U, mean and worst/best speed-up (of the given kind) before and after, the drafters.</summary>
    private static MitigationReport Summarize(
        EvaluationReport before, EvaluationReport after, string strategy, ModelIdentity drafterAfter, IReadOnlyList<TaskReport> common,
        Func<TaskReport, double> speedupBefore, Func<TaskReport, double> speedupAfter, string kind)
    {
        var afterTasks = after.Tasks.ToDictionary(t => t.TaskId);
        double After(TaskReport t) => speedupAfter(afterTasks[t.TaskId]);
        return new MitigationReport
        {
            Strategy = strategy,
            SpeedupKind = kind,
            UnfairnessBefore = before.Suite.Fairness.Unfairness,
            UnfairnessAfter = after.Suite.Fairness.Unfairness,
            MeanSpeedupBefore = common.Average(speedupBefore),
            MeanSpeedupAfter = common.Average(After),
            MinMaxSpeedupRatioBefore = common.Min(speedupBefore) / common.Max(speedupBefore),
            MinMaxSpeedupRatioAfter = common.Min(After) / common.Max(After),
            Promoted = false,
            DrafterBefore = before.Drafter,
            DrafterAfter = drafterAfter,
        };
    }

    /// <summary>
    /// Gating's rule: the drafter is unchanged, so U is not the target (it moves only because D_T averages over the
    /// prefixes each γ drafts); the per-task draft lengths are adopted when the worst task's measured speed-up rose and
    /// the mean measured speed-up held within the tolerance. Measured, because only wall time says whether a draft length
    /// paid; a run without baselines falls back to the refined prediction.
    /// </summary>
    private static (MitigationReport Report, bool Promoted, string Reason) CompareGating(
        EvaluationReport before, EvaluationReport after, string strategy, double meanSpeedupTolerance, ModelIdentity drafterAfter)
    {
        var afterTasks = after.Tasks.ToDictionary(t => t.TaskId);
        var common = before.Tasks.Where(t => afterTasks.ContainsKey(t.TaskId)).ToList();
        var measured = common.All(t => t.MeasuredSpeedup is not null && afterTasks[t.TaskId].MeasuredSpeedup is not null);
        double Speedup(TaskReport t) => measured ? t.MeasuredSpeedup!.Value : t.RefinedSpeedup;
        var kind = measured ? "measured" : "refined";
        var summary = Summarize(before, after, strategy, drafterAfter, common, Speedup, Speedup, kind);
        var (sBefore, sAfter) = (summary.MeanSpeedupBefore, summary.MeanSpeedupAfter);
        var worstBefore = common.Min(Speedup);
        var worstAfter = common.Min(t => Speedup(afterTasks[t.TaskId]));
        var worstRose = worstAfter > worstBefore;
        var speedHeld = sAfter >= sBefore * (1 - meanSpeedupTolerance);
        var promoted = worstRose && speedHeld;
        var reason = promoted
            ? $"per-task draft lengths adopted: worst {kind} speed-up {worstBefore:F3} → {worstAfter:F3}, mean {sBefore:F3} → {sAfter:F3} (tolerance {meanSpeedupTolerance:P0})"
            : !worstRose
                ? $"kept γ = {before.Suite.Gamma} on every task: the worst {kind} speed-up did not rise ({worstBefore:F3} → {worstAfter:F3})"
                : $"kept γ = {before.Suite.Gamma} on every task: the mean {kind} speed-up fell {sBefore:F3} → {sAfter:F3}, more than {meanSpeedupTolerance:P0}";
        var report = summary with
        {
            Promoted = promoted,
            Tasks = [.. common.Select(t => Row(t, afterTasks[t.TaskId], Speedup(t), Speedup(afterTasks[t.TaskId])) with
            {
                GammaBefore = t.Gamma ?? before.Suite.Gamma,
                GammaAfter = afterTasks[t.TaskId].Gamma ?? after.Suite.Gamma,
            })],
        };
        return (report, promoted, reason);
    }
}
