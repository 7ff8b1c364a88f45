
namespace SpecFunctions.Orchestration;

/// <summary>What one task's evaluation produced (the activity's output).</summary>
public sealed record TaskSummary
{
    public required string TaskId { get; init; }

    public required TaskOutcome Status { get; init; }

    public string? Error { get; init; }
    public int Prompts { get; init; }
    public int Steps { get; init; }
    public int GeneratedTokens { get; init; }

    /// <summary>α_T of the fresh trace (null when reused or failed).</summary>
    public double? Alpha { get; init; }
    public double? AcceptanceRate { get; init; }
    public double? CrossEntropy { get; init; }

    /// <summary>Generated tokens per second of speculative decoding.</summary>
    public double? TokensPerSecond { get; init; }

    /// <summary>Wall-clock span of the activity (for fan-out overlap measurements).</summary>
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public string? ExecutionProvider { get; init; }

    /// <summary>Where the evaluation ran: requested device, execution provider, GPU and driver (the Functions app fills it).</summary>
    public DeviceReport? Device { get; init; }
}
