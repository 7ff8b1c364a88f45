using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json.Serialization;

namespace SpecFunctions.Core.Reporting;

/// <summary>When a re-run of a suite counts as a regression (configuration section <see cref="SectionName"/>).</summary>
public sealed class RegressionThresholds
{
    public const string SectionName = "Audit";

    /// <summary>Largest tolerated rise of U, absolute, nats². Default 0.01.</summary>
    [Range(0, double.MaxValue)]
    public double UnfairnessIncrease { get; set; } = 0.01;

    /// <summary>Largest tolerated relative fall of the worst task's speed-up (0.05 = 5 %). Default 0.05.</summary>
    [Range(0, 1)]
    public double WorstSpeedupDrop { get; set; } = 0.05;
}

/// <summary>The <c>regression</c> section of a report: this run against the suite's previous run.</summary>
public sealed record RegressionReport
{
    [JsonPropertyName("previousRunId")]
    public required string PreviousRunId { get; init; }

    /// <summary><c>measured</c> when both runs have measured speed-ups for every task, else <c>analytical</c> (S_T).</summary>
    [JsonPropertyName("speedupBasis")]
    public required string SpeedupBasis { get; init; }

    /// <summary>True when any threshold was passed; <see cref="Reasons"/> says which.</summary>
    [JsonPropertyName("regressed")]
    public required bool Regressed { get; init; }

    /// <summary>One sentence per passed threshold; empty when not regressed.</summary>
    [JsonPropertyName("reasons")]
    public required IReadOnlyList<string> Reasons { get; init; }

    /// <summary>U of the previous run, nats².</summary>
    [JsonPropertyName("unfairnessBefore")]
    public required double UnfairnessBefore { get; init; }

    /// <summary>U of this run, nats².</summary>
    [JsonPropertyName("unfairnessAfter")]
    public required double UnfairnessAfter { get; init; }

    [JsonPropertyName("worstTaskBefore")]
    public required string WorstTaskBefore { get; init; }

    [JsonPropertyName("worstTaskAfter")]
    public required string WorstTaskAfter { get; init; }

    /// <summary>Lowest task speed-up of the previous run (ratio).</summary>
    [JsonPropertyName("worstSpeedupBefore")]
    public required double WorstSpeedupBefore { get; init; }

    /// <summary>Lowest task speed-up of this run (ratio).</summary>
    [JsonPropertyName("worstSpeedupAfter")]
    public required double WorstSpeedupAfter { get; init; }

    /// <summary>Speed-up of every task present in both runs, in task-id order.</summary>
    [JsonPropertyName("tasks")]
    public required IReadOnlyList<RegressionTaskReport> Tasks { get; init; }

    [JsonPropertyName("thresholds")]
    public required RegressionThresholdsReport Thresholds { get; init; }
}

/// <summary>One task's speed-up in both runs.</summary>
public sealed record RegressionTaskReport
{
    [JsonPropertyName("taskId")]
    public required string TaskId { get; init; }

    [JsonPropertyName("speedupBefore")]
    public required double SpeedupBefore { get; init; }

    [JsonPropertyName("speedupAfter")]
    public required double SpeedupAfter { get; init; }
}

/// <summary>The thresholds a comparison used.</summary>
public sealed record RegressionThresholdsReport
{
    [JsonPropertyName("unfairnessIncrease")]
    public required double UnfairnessIncrease { get; init; }

    [JsonPropertyName("worstSpeedupDrop")]
    public required double WorstSpeedupDrop { get; init; }
}

/// <summary>Compares two reports of the same suite (nightly audit).</summary>
public static class RegressionComparer
{
    /// <summary>
    /// Compares <paramref name="current"/> with <paramref name="previous"/>. Regressed when U rose by more than
    /// <see cref="RegressionThresholds.UnfairnessIncrease"/> or the worst task's speed-up fell by more than
    /// <see cref="RegressionThresholds.WorstSpeedupDrop"/> (relative to the previous worst).
    /// </summary>
    public static RegressionReport Compare(EvaluationReport previous, EvaluationReport current, RegressionThresholds thresholds)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(thresholds);
        if (previous.Tasks.Count == 0 || current.Tasks.Count == 0)
        {
            throw new ArgumentException(
                $"cannot compare runs '{previous.RunId}' and '{current.RunId}': a report without completed tasks has no speed-ups");
        }

        // Measured speed-ups are what users feel; the analytical S_T is the fallback that every report has.
        var measured = previous.Tasks.Concat(current.Tasks).All(t => t.MeasuredSpeedup is not null);
        double Speedup(TaskReport t) => measured ? t.MeasuredSpeedup!.Value : t.AnalyticalSpeedup;

        var worstBefore = previous.Tasks.MinBy(Speedup)!;
        var worstAfter = current.Tasks.MinBy(Speedup)!;
        var uBefore = previous.Suite.Fairness.Unfairness;
        var uAfter = current.Suite.Fairness.Unfairness;

        var reasons = new List<string>();
        if (uAfter - uBefore > thresholds.UnfairnessIncrease)
        {
            reasons.Add(Invariant($"unfairness U rose from {uBefore:G4} to {uAfter:G4} nats² (more than +{thresholds.UnfairnessIncrease:G4})"));
        }

        var drop = Speedup(worstBefore) > 0 ? (Speedup(worstBefore) - Speedup(worstAfter)) / Speedup(worstBefore) : 0;
        if (drop > thresholds.WorstSpeedupDrop)
        {
            reasons.Add(Invariant(
                $"worst-task speed-up fell {drop * 100:F1}% from {Speedup(worstBefore):F3} ({worstBefore.TaskId}) to {Speedup(worstAfter):F3} ({worstAfter.TaskId}), more than {thresholds.WorstSpeedupDrop * 100:F1}%"));
        }

        var before = previous.Tasks.ToDictionary(t => t.TaskId, StringComparer.Ordinal);
        var tasks = current.Tasks
            .Where(t => before.ContainsKey(t.TaskId))
            .OrderBy(t => t.TaskId, StringComparer.Ordinal)
            .Select(t => new RegressionTaskReport { TaskId = t.TaskId, SpeedupBefore = Speedup(before[t.TaskId]), SpeedupAfter = Speedup(t) })
            .ToList();

        return new RegressionReport
        {
            PreviousRunId = previous.RunId,
            SpeedupBasis = measured ? "measured" : "analytical",
            Regressed = reasons.Count > 0,
            Reasons = reasons,
            UnfairnessBefore = uBefore,
            UnfairnessAfter = uAfter,
            WorstTaskBefore = worstBefore.TaskId,
            WorstTaskAfter = worstAfter.TaskId,
            WorstSpeedupBefore = Speedup(worstBefore),
            WorstSpeedupAfter = Speedup(worstAfter),
            Tasks = tasks,
            Thresholds = new RegressionThresholdsReport
            {
                UnfairnessIncrease = thresholds.UnfairnessIncrease,
                WorstSpeedupDrop = thresholds.WorstSpeedupDrop,
            },
        };
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
