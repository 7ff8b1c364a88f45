using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Tests.Reporting;

/// <summary>Hand-made reports: only the figures a comparison reads are chosen, the rest are fixed placeholders.</summary>
internal static class TestReports
{
    /// <summary>A report with U = <paramref name="unfairness"/> and one task per (id, analytical S_T, measured S_T or null).</summary>
    public static EvaluationReport Report(string runId, double unfairness, params (string TaskId, double Analytical, double? Measured)[] tasks) => new()
    {
        RunId = runId,
        GeneratedAt = new DateTimeOffset(2026, 11, 28, 2, 0, 0, TimeSpan.Zero),
        Suite = new SuiteReport
        {
            Gamma = 4,
            CostRatio = 0.1,
            VerificationCostRatio = 1.0,
            Fairness = new FairnessReport
            {
                Unfairness = unfairness,
                MeanCrossEntropy = 1.0,
                SpeedupVariance = 0,
                SpeedupRange = 0,
                MinMaxSpeedupRatio = 1,
                MeanSpeedup = 1,
                WorstTask = tasks.Length > 0 ? tasks[0].TaskId : "none",
            },
        },
        Tasks = [.. tasks.Select(t => Task(t.TaskId, t.Analytical, t.Measured))],
    };

    private static TaskReport Task(string id, double analytical, double? measured) => new()
    {
        TaskId = id,
        Status = TaskState.Committed,
        Prompts = 4,
        Steps = 10,
        DraftedTokens = 40,
        AcceptedTokens = 30,
        GeneratedTokens = 50,
        AcceptanceRate = 0.75,
        Alpha = 0.75,
        CrossEntropy = 1.0,
        Kl = 0.2,
        MeanAcceptedLength = 4.0,
        AnalyticalSpeedup = analytical,
        ExpectedSpeedupPerPrefix = analytical,
        RefinedSpeedup = analytical,
        MeasuredSpeedup = measured,
        SpeedupBound = 1.0,
        SpeedupBoundCrossEntropy = 1.0,
        AcceptanceRateByPosition = [0.9, 0.8, 0.7, 0.6],
        AcceptedPastPosition = [0.9, 0.72, 0.504, 0.3024],
    };
}
