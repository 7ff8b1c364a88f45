using SpecFunctions.Core.Evaluation;
using System.Collections.Concurrent;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Orchestration.Tests;

/// <summary>A real store that fails <c>OpenTraceWriterAsync</c> a set number of times per task (a transient outage) and counts shard writers.</summary>
internal sealed class FaultyTraceStore(ITraceStore inner, IReadOnlyDictionary<string, int> failuresBeforeSuccess) : ITraceStore
{
    public ConcurrentDictionary<string, int> Attempts { get; } = new(StringComparer.Ordinal);

    public string Location => inner.Location;

    public Task<TraceWriter> OpenTraceWriterAsync(string runId, string taskId, string contentKey, int prompts, CancellationToken cancellationToken = default)
    {
        var attempt = Attempts.AddOrUpdate(taskId, 1, (_, n) => n + 1);
        if (failuresBeforeSuccess.TryGetValue(taskId, out var failures) && attempt <= failures)
        {
            throw new TraceStoreException($"injected outage {attempt} for task {taskId}");
        }

        return inner.OpenTraceWriterAsync(runId, taskId, contentKey, prompts, cancellationToken);
    }

    /// <summary>Shard writers opened, by "task/shard" (how many times each shard was evaluated).</summary>
    public ConcurrentDictionary<string, int> ShardOpens { get; } = new(StringComparer.Ordinal);

    public Task<TraceWriter> OpenShardWriterAsync(string runId, string taskId, string contentKey, ShardRange shard, CancellationToken cancellationToken = default)
    {
        ShardOpens.AddOrUpdate($"{taskId}/{shard.Index}", 1, (_, n) => n + 1);
        return inner.OpenShardWriterAsync(runId, taskId, contentKey, shard, cancellationToken);
    }

    public Task<SuiteDefinition> ReadSuiteSourceAsync(string suiteName, SuiteSource source, EvaluationLimits limits, CancellationToken cancellationToken = default) => inner.ReadSuiteSourceAsync(suiteName, source, limits, cancellationToken);

    public Task<RunManifest> CreateRunAsync(RunManifest manifest, CancellationToken cancellationToken = default) => inner.CreateRunAsync(manifest, cancellationToken);

    public Task<RunManifest?> GetManifestAsync(string runId, CancellationToken cancellationToken = default) => inner.GetManifestAsync(runId, cancellationToken);

    public Task<RunManifest> UpdateManifestAsync(string runId, Func<RunManifest, RunManifest> update, CancellationToken cancellationToken = default) => inner.UpdateManifestAsync(runId, update, cancellationToken);

    public IAsyncEnumerable<string> ListRunsAsync(CancellationToken cancellationToken = default) => inner.ListRunsAsync(cancellationToken);

    public Task<RunPage> ListRunPageAsync(RunQuery query, CancellationToken cancellationToken = default) => inner.ListRunPageAsync(query, cancellationToken);

    public Task<CommittedTrace?> TryGetCommittedTraceAsync(string? runId, string contentKey, CancellationToken cancellationToken = default) => inner.TryGetCommittedTraceAsync(runId, contentKey, cancellationToken);

    public Task<TaskEntry> ReuseTraceAsync(string runId, string taskId, CommittedTrace source, CancellationToken cancellationToken = default) => inner.ReuseTraceAsync(runId, taskId, source, cancellationToken);

    public Task<TaskEntry> MarkTaskFailedAsync(string runId, string taskId, string error, CancellationToken cancellationToken = default) => inner.MarkTaskFailedAsync(runId, taskId, error, cancellationToken);

    public Task<TaskEntry> MarkTaskCancelledAsync(string runId, string taskId, CancellationToken cancellationToken = default) => inner.MarkTaskCancelledAsync(runId, taskId, cancellationToken);

    public IAsyncEnumerable<TraceRecord> ReadTraceAsync(string runId, string taskId, CancellationToken cancellationToken = default) => inner.ReadTraceAsync(runId, taskId, cancellationToken);

    public Task WriteArtifactAsync(string runId, RunArtifact artifact, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default) => inner.WriteArtifactAsync(runId, artifact, write, cancellationToken);

    public Task<Stream?> OpenArtifactAsync(string runId, RunArtifact artifact, CancellationToken cancellationToken = default) => inner.OpenArtifactAsync(runId, artifact, cancellationToken);

    public Task DeleteArtifactAsync(string runId, RunArtifact artifact, CancellationToken cancellationToken = default) => inner.DeleteArtifactAsync(runId, artifact, cancellationToken);

    public Task<ModelIdentity> PutModelAsync(string name, string folder, CancellationToken cancellationToken = default) => inner.PutModelAsync(name, folder, cancellationToken);

    public Task GetModelAsync(ModelIdentity model, string destinationFolder, CancellationToken cancellationToken = default) => inner.GetModelAsync(model, destinationFolder, cancellationToken);
}
