
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

    /// <summary>The shard this summary is of (an activity's result for a sharded task); null: the whole task.</summary>
    public int? Shard { get; init; }

    /// <summary>The task's shards (a shard's summary, or the task's merged from them); null: the task ran unsharded.</summary>
    public int? Shards { get; init; }

    /// <summary>Reference-pass positions behind <see cref="Alpha"/> and <see cref="CrossEntropy"/> (to merge shard summaries).</summary>
    public long? Positions { get; init; }

    /// <summary>Drafted tokens behind <see cref="AcceptanceRate"/> (to merge shard summaries).</summary>
    public long? Drafted { get; init; }

    /// <summary>Where the evaluation ran: requested device, execution provider, GPU and driver (the Functions app fills it).</summary>
    public DeviceReport? Device { get; init; }
}
