
namespace SpecFunctions.Orchestration;

/// <summary>Input of an <c>EvaluateTaskChunk</c> sub-orchestration (large suites fan out through these).</summary>
public sealed record TaskChunkInput
{
    public required IReadOnlyList<EvaluateTaskInput> Tasks { get; init; }

    /// <summary>The run's queue dispatch (null: in process).</summary>
    public QueueDispatch? Dispatch { get; init; }
}
