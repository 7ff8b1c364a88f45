using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>What <c>PrepareRun</c> resolved: model identities and the run's manifest is written.</summary>
public sealed record PreparedRun
{
    public required string RunId { get; init; }
    public required ModelIdentity Drafter { get; init; }
    public required ModelIdentity Verifier { get; init; }

    /// <summary>How this run's tasks are dispatched (null: in process). Recorded here so replays see the same choice.</summary>
    public QueueDispatch? Dispatch { get; init; }

    /// <summary>A suite by reference as read and validated from its blob (the run's tasks from now on); null for an inline suite.</summary>
    public Core.Evaluation.SuiteDefinition? Suite { get; init; }
}
