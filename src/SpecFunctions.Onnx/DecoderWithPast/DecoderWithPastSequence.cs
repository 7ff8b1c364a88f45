using Microsoft.ML.OnnxRuntime;
using SpecFunctions.Core.Models;

namespace SpecFunctions.Onnx;

/// <summary>
/// A sequence of a <see cref="DecoderWithPastOnnxModel"/>: its KV cache and the call path its model's options chose.
/// Every call runs the same skeleton (<see cref="AppendCore"/>): close the cache's holes when due, mask the new rows in,
/// call through the path, commit the rows.
/// </summary>
internal sealed class DecoderWithPastSequence : IModelSequence
{
    private readonly DecoderWithPastOnnxModel _model;
    private readonly RunOptions _runOptions = new();
    private readonly KvCache _cache;
    private readonly IDecoderCallPath _path;
    private bool _disposed;

    public DecoderWithPastSequence(DecoderWithPastOnnxModel model)
    {
        _model = model;
        _cache = new KvCache(model.Schema);
        _path = !model.IoBinding ? new RunCallPath(model, _runOptions)
            : model.CacheOnHost ? new HostCallPath(model, _runOptions)
            : new BoundCallPath(model, _runOptions);
    }

    public int Length => _cache.Length;

    /// <summary>The first cache tensor; null before the first call (tests read where it lives).</summary>
    public OrtValue? CacheTensor => _cache.Tensors[0];

    public void Append(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        SequenceChecks.Rows(tokens, logits, _model.VocabularySize, Length, _model.ContextLength);
        if (tokens.IsEmpty)
        {
            return;
        }

        var afterPast = tokens.Length > 1 && _cache.CachedLength > 0;
        if (afterPast && _model.OneTokenPerCallAfterPast)
        {
            AppendOneByOne(tokens, logits);
            return;
        }

        // The first call of several tokens after a past probes the graph: its failure is expected on some graphs and
        // handled below, so ONNX Runtime is asked not to log it.
        var probe = afterPast && !_model.ManyTokensAfterPast;
        if (probe)
        {
            _runOptions.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
        }

        try
        {
            AppendCore(tokens, logits);
        }
        catch (OnnxRuntimeException) when (probe)
        {
            // The graph takes several new tokens only without a past: the model builder's MultiHeadAttention exports
            // build their causal mask as [n, n] and expand it to [n, past + n] (invalid unless n = 1 or past = 0).
            // The failed call changed no state; from now on such appends run one token per call.
            _model.OneTokenPerCallAfterPast = true;
            AppendOneByOne(tokens, logits);
            return;
        }
        finally
        {
            if (probe)
            {
                _runOptions.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING;
            }
        }

        if (afterPast)
        {
            _model.ManyTokensAfterPast = true;
        }
    }

    public void Truncate(int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);
        _cache.Truncate(length);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _cache.Dispose();
        _path.Dispose();
        _runOptions.Dispose();
    }

    /// <summary>Appends one token per call, writing the logit rows the caller asked for (the last <c>logits.Length / V</c>).</summary>
    private void AppendOneByOne(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        var v = _model.VocabularySize;
        var skipped = tokens.Length - (logits.Length / v);
        for (var i = 0; i < tokens.Length; i++)
        {
            AppendCore(tokens.Slice(i, 1), i < skipped ? Span<float>.Empty : logits.Slice((i - skipped) * v, v));
        }
    }

    /// <summary>One model call: the steps every call path shares, around the path's own <see cref="IDecoderCallPath.Call"/>.</summary>
    private void AppendCore(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        if (_cache.Prepare())
        {
            _path.Compact(_cache);
        }

        var start = Length;
        var total = _cache.Open(tokens.Length);
        _path.Call(tokens, logits, _cache, total, start);
        _cache.Commit(total);
    }
}
