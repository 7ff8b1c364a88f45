using System.Text.Json.Serialization;

namespace SpecFunctions.Orchestration;

/// <summary>Output of <c>EvaluateSuite</c>.</summary>
public sealed record EvaluationOutcome
{
    public required string RunId { get; init; }
    public required IReadOnlyList<TaskSummary> Tasks { get; init; }
    public required FairnessOutcome Fairness { get; init; }

    /// <summary>The mitigation's outcome when one ran (decision "mitigate" with autoMitigate on).</summary>
    public MitigationOutcome? Mitigation { get; init; }

    /// <summary>True when the run was cancelled: tasks not evaluated are <see cref="TaskOutcome.Cancelled"/>, no mitigation ran.</summary>
    public bool Cancelled { get; init; }

    /// <summary>Set when a GPU was requested and some task ran on the CPU (<see cref="DeviceReport.FellBackToCpu"/>): which tasks, and why.</summary>
    public string? DeviceWarning { get; init; }

    [JsonIgnore]
    public int FailedTasks => Tasks.Count(t => t.Status == TaskOutcome.Failed);
}
