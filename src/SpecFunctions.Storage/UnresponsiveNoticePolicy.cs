using Azure.Core;
using Azure.Core.Pipeline;

namespace SpecFunctions.Storage;

/// <summary>
/// Per attempt: tells the caller once that storage is slow to answer (an attempt past the notice delay, or a retry).
/// It observes only; the retries themselves are the SDK's.
/// </summary>
internal sealed class UnresponsiveNoticePolicy(Action notify, TimeSpan noticeAfter) : HttpPipelinePolicy
{
    private int _notified;

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        using var answered = Watch(message);
        try
        {
            await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
        }
        finally
        {
            await answered.CancelAsync().ConfigureAwait(false);
        }
    }

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        using var answered = Watch(message);
        try
        {
            ProcessNext(message, pipeline);
        }
        finally
        {
            answered.Cancel();
        }
    }

    /// <summary>Notices a retry at once, and an attempt still unanswered after the delay unless the returned source is cancelled first.</summary>
    private CancellationTokenSource Watch(HttpMessage message)
    {
        if (message.ProcessingContext.RetryNumber > 0)
        {
            Notify();
        }

        var answered = new CancellationTokenSource();
        _ = Task.Delay(noticeAfter, answered.Token).ContinueWith(
            _ => Notify(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        return answered;
    }

    private void Notify()
    {
        if (Interlocked.Exchange(ref _notified, 1) == 0)
        {
            notify();
        }
    }
}
