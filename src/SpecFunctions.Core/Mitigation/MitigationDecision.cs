using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;

namespace SpecFunctions.Core.Mitigation;

/// <summary>The mitigation decision of method.md §6: act when U or the speed-up gap passes its threshold.</summary>
public static class MitigationDecision
{
    public const string Mitigate = "mitigate";
    public const string None = "none";

    public static DecisionReport Decide(EvaluationReport report, MitigationPolicy policy)
    {
        var fairness = report.Suite.Fairness;
        var gap = double.IsFinite(fairness.MinMaxSpeedupRatio) ? 1 - fairness.MinMaxSpeedupRatio : 0;
        var reasons = new List<string>();
        if (fairness.Unfairness > policy.UnfairnessThreshold)
        {
            reasons.Add($"U = {fairness.Unfairness:G4} > {policy.UnfairnessThreshold:G4}");
        }

        if (gap > policy.SpeedupGapThreshold)
        {
            reasons.Add($"speed-up gap 1 − min/max = {gap:G4} > {policy.SpeedupGapThreshold:G4} (worst task {fairness.WorstTask})");
        }

        var mitigate = reasons.Count > 0;
        return new DecisionReport
        {
            Action = mitigate ? Mitigate : None,
            Reason = mitigate
                ? string.Join("; ", reasons) + (policy.AutoMitigate ? "" : " — recorded only (autoMitigate is off)")
                : $"U = {fairness.Unfairness:G4} ≤ {policy.UnfairnessThreshold:G4} and speed-up gap {gap:G4} ≤ {policy.SpeedupGapThreshold:G4}",
            Inputs = new Dictionary<string, double>
            {
                ["unfairness"] = fairness.Unfairness,
                ["unfairnessThreshold"] = policy.UnfairnessThreshold,
                ["speedupGap"] = gap,
                ["speedupGapThreshold"] = policy.SpeedupGapThreshold,
            },
            DecidedAt = report.GeneratedAt,
        };
    }
}
