
namespace SpecFunctions.Orchestration;

/// <summary>The fairness result and the mitigation decision.</summary>
public sealed record FairnessOutcome
{
    public double? Unfairness { get; init; }
    public double? MeanSpeedup { get; init; }
    public double? MinMaxSpeedupRatio { get; init; }
    public string? WorstTask { get; init; }

    /// <summary>mitigate | none | not-evaluated.</summary>
    public required string Decision { get; init; }
    public required string Reason { get; init; }
    public bool ReportWritten { get; init; }
    public string? Error { get; init; }

    /// <summary>
    /// Tasks the evaluation reported committed (or reused) whose trace was gone when fairness was computed: task id →
    /// error. They are marked failed in the manifest and listed as incomplete in the report; U covers the others.
    /// </summary>
    public IReadOnlyDictionary<string, string> LostTasks { get; init; } = new Dictionary<string, string>();
}
