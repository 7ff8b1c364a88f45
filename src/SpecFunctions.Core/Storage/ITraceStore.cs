using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Storage;

/// <summary>
/// Durable record of evaluations: run manifests, streamed per-task traces, reports and drafter versions.
/// Ids are validated (<see cref="StoreIds.Pattern"/>) before any storage call; an invalid id throws
/// <see cref="ArgumentException"/>. Storage failures surface as <see cref="TraceStoreException"/>.
/// </summary>
public interface ITraceStore
{
    /// <summary>Where the store lives (folder path or container URI), for messages.</summary>
    string Location { get; }

    /// <summary>
    /// Creates the run's manifest, or returns the existing one when the run already exists (re-runs are idempotent).
    /// </summary>
    /// <summary>
    /// Reads and validates a suite by reference (<see cref="Evaluation.SuiteSource"/>, a blob of this store) as a stream,
    /// line by line (<see cref="Evaluation.SuiteSourceReader"/>).
    /// </summary>
    /// <exception cref="Evaluation.SuiteSourceException">The blob is missing, too large, or a line is invalid.</exception>
    Task<Evaluation.SuiteDefinition> ReadSuiteSourceAsync(string suiteName, Evaluation.SuiteSource source, Evaluation.EvaluationLimits limits, CancellationToken cancellationToken = default);

    Task<RunManifest> CreateRunAsync(RunManifest manifest, CancellationToken cancellationToken = default);

    /// <summary>The run's manifest, or null when the run does not exist.</summary>
    Task<RunManifest?> GetManifestAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies <paramref name="update"/> to the latest manifest with compare-and-swap, re-reading and re-applying it on
    /// conflict, so concurrent updates all survive. <paramref name="update"/> may run several times: keep it pure.
    /// </summary>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    Task<RunManifest> UpdateManifestAsync(string runId, Func<RunManifest, RunManifest> update, CancellationToken cancellationToken = default);

    /// <summary>Run ids in the store, ordinal order.</summary>
    IAsyncEnumerable<string> ListRunsAsync(CancellationToken cancellationToken = default);

    /// <summary>One page of the run history, newest first, filtered (<see cref="RunListing"/>).</summary>
    /// <exception cref="ArgumentException">The query is invalid (<see cref="RunListing.Validate"/>).</exception>
    Task<RunPage> ListRunPageAsync(RunQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts streaming a task's trace. Records go through gzip straight to storage; the trace becomes visible only
    /// after <see cref="TraceWriter.CommitAsync"/>. Marks the task <see cref="TaskState.Running"/> in the manifest.
    /// </summary>
    Task<TraceWriter> OpenTraceWriterAsync(string runId, string taskId, string contentKey, int prompts, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts streaming one shard of a task's trace (<paramref name="contentKey"/>: the whole task's key) into a part of
    /// its own. On commit the part is recorded among the task's shards unless that shard is already recorded (then it is
    /// discarded: a committed shard is never replaced); the last shard commits the task, whose trace is then the parts
    /// in shard order.
    /// </summary>
    Task<TraceWriter> OpenShardWriterAsync(string runId, string taskId, string contentKey, ShardRange shard, CancellationToken cancellationToken = default);

    /// <summary>
    /// A committed trace with <paramref name="contentKey"/>: within <paramref name="runId"/>'s manifest when given,
    /// else anywhere in the store (content-key index). Null when none.
    /// </summary>
    Task<CommittedTrace?> TryGetCommittedTraceAsync(string? runId, string contentKey, CancellationToken cancellationToken = default);

    /// <summary>Records <paramref name="source"/> as <paramref name="taskId"/>'s trace in <paramref name="runId"/> without copying it.</summary>
    Task<TaskEntry> ReuseTraceAsync(string runId, string taskId, CommittedTrace source, CancellationToken cancellationToken = default);

    /// <summary>Marks a task failed with a one-line reason (no trace is published).</summary>
    Task<TaskEntry> MarkTaskFailedAsync(string runId, string taskId, string error, CancellationToken cancellationToken = default);

    /// <summary>Marks a task cancelled (the run was cancelled before or while it ran; no trace is published).</summary>
    Task<TaskEntry> MarkTaskCancelledAsync(string runId, string taskId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams a task's committed trace (following reuse). Throws <see cref="TraceStoreException"/> when the task has
    /// no committed trace: partial or uncommitted traces are never read.
    /// </summary>
    IAsyncEnumerable<TraceRecord> ReadTraceAsync(string runId, string taskId, CancellationToken cancellationToken = default);

    /// <summary>Writes a run artifact (report, CSV) through <paramref name="write"/>; visible when complete.</summary>
    Task WriteArtifactAsync(string runId, RunArtifact artifact, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default);

    /// <summary>Opens a run artifact for reading; null when it was never written.</summary>
    Task<Stream?> OpenArtifactAsync(string runId, RunArtifact artifact, CancellationToken cancellationToken = default);

    /// <summary>Deletes a run artifact; nothing happens when it does not exist.</summary>
    Task DeleteArtifactAsync(string runId, RunArtifact artifact, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the files of <paramref name="folder"/> under <c>models/{name}/{sha256}/</c>. Content-addressed and
    /// immutable: when that version exists, nothing is written (after checking its stored hash). Returns the identity.
    /// </summary>
    Task<ModelIdentity> PutModelAsync(string name, string folder, CancellationToken cancellationToken = default);

    /// <summary>Downloads a stored model version into <paramref name="destinationFolder"/> and verifies every file's hash.</summary>
    Task GetModelAsync(ModelIdentity model, string destinationFolder, CancellationToken cancellationToken = default);
}
