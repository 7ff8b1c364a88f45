using System.Text.Json;

namespace SpecFunctions.Core.Storage;

/// <summary>
/// A run's cancellation request, kept in the store (<see cref="RunArtifact.CancelRequest"/>) so that every replica's
/// activities see it: a task that has not started does not evaluate, a running one stops between prompts. A retry of the
/// run clears it.
/// </summary>
public static class RunCancellation
{
    /// <summary>Records that <paramref name="runId"/> is to stop (idempotent).</summary>
    public static Task RequestAsync(this ITraceStore store, string runId, string reason, DateTimeOffset requestedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["requestedAt"] = requestedAt, ["reason"] = reason });
        return store.WriteArtifactAsync(runId, RunArtifact.CancelRequest, (stream, ct) => stream.WriteAsync(body, ct).AsTask(), cancellationToken);
    }

    /// <summary>True while a cancellation of <paramref name="runId"/> is requested.</summary>
    public static async Task<bool> IsRequestedAsync(this ITraceStore store, string runId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var stream = await store.OpenArtifactAsync(runId, RunArtifact.CancelRequest, cancellationToken).ConfigureAwait(false);
        if (stream is null)
        {
            return false;
        }

        await stream.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    /// <summary>Withdraws the request (before a retry of the run).</summary>
    public static Task ClearAsync(this ITraceStore store, string runId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.DeleteArtifactAsync(runId, RunArtifact.CancelRequest, cancellationToken);
    }

    /// <summary>
    /// A token that is cancelled once a cancellation of <paramref name="runId"/> is requested, checked every
    /// <paramref name="interval"/> until disposed. A storage error while polling is ignored (the next poll retries).
    /// </summary>
    public static CancellationWatch Watch(this ITraceStore store, string runId, TimeSpan interval) => new(store, runId, interval);

    /// <summary>Polls the request in the background; dispose it when the work it guards ends.</summary>
    public sealed class CancellationWatch : IDisposable
    {
        private readonly CancellationTokenSource _cancelled = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _poll;

        internal CancellationWatch(ITraceStore store, string runId, TimeSpan interval)
        {
            _poll = Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(interval);
                try
                {
                    while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                    {
                        try
                        {
                            if (await store.IsRequestedAsync(runId, _stop.Token).ConfigureAwait(false))
                            {
                                await _cancelled.CancelAsync().ConfigureAwait(false);
                                return;
                            }
                        }
                        catch (TraceStoreException)
                        {
                            // Storage hiccup: keep evaluating; the next tick asks again.
                        }
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                }
            });
        }

        /// <summary>Cancelled when the run's cancellation was seen.</summary>
        public CancellationToken Token => _cancelled.Token;

        public void Dispose()
        {
            _stop.Cancel();
            try
            {
                _poll.Wait(TimeSpan.FromSeconds(10));
            }
            catch (AggregateException)
            {
            }

            _stop.Dispose();
            _cancelled.Dispose();
        }
    }
}
