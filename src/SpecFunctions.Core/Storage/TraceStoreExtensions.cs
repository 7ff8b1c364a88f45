using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Storage;

/// <summary>What <see cref="TraceStoreExtensions.RunTaskAsync"/> did.</summary>
public sealed record TaskRunOutcome(TaskEntry Entry, bool Reused);

public static class TraceStoreExtensions
{
    /// <summary>
    /// Runs one task at most once per content key: when <paramref name="contentKey"/> already has a committed trace
    /// (in this run, else, when <paramref name="reuseAcrossRuns"/>, anywhere in the store) it is reused and <paramref name="produce"/> is not called; otherwise
    /// <paramref name="produce"/> streams the records into a new trace, which is committed. If
    /// <paramref name="produce"/> throws, nothing is published and the task stays not committed.
    /// </summary>
    public static async Task<TaskRunOutcome> RunTaskAsync(
        this ITraceStore store, string runId, string taskId, string contentKey, int prompts,
        Action<ITraceSink, CancellationToken> produce, CancellationToken cancellationToken = default, bool reuseAcrossRuns = true)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(produce);
        TraceStoreLayout.Trace(runId, taskId);

        var existing = await store.TryGetCommittedTraceAsync(runId, contentKey, cancellationToken).ConfigureAwait(false)
            ?? (reuseAcrossRuns ? await store.TryGetCommittedTraceAsync(null, contentKey, cancellationToken).ConfigureAwait(false) : null);
        if (existing is not null)
        {
            var entry = await store.ReuseTraceAsync(runId, taskId, existing, cancellationToken).ConfigureAwait(false);
            return new TaskRunOutcome(entry, Reused: true);
        }

        var writer = await store.OpenTraceWriterAsync(runId, taskId, contentKey, prompts, cancellationToken).ConfigureAwait(false);
        await using (writer.ConfigureAwait(false))
        {
            produce(writer, cancellationToken);
            var entry = await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new TaskRunOutcome(entry, Reused: false);
        }
    }
}
