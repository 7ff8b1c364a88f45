using Microsoft.Extensions.Options;

namespace SpecFunctions.Orchestration;

/// <summary>Limits how many task evaluations run at once in this process (a GPU replica evaluates one at a time).</summary>
public sealed class EvaluationGate(IOptions<EvaluationOptions> options) : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(Math.Max(1, options.Value.MaxConcurrentEvaluations));

    public async Task<IDisposable> WaitAsync(CancellationToken cancellationToken = default)
    {
        await _semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser(_semaphore);
    }

    public void Dispose() => _semaphore.Dispose();

    private sealed class Releaser(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                semaphore.Release();
            }
        }
    }
}
