using Microsoft.ML.OnnxRuntime;

namespace SpecFunctions.Onnx;

/// <summary>
/// A cache in host memory (the CPU provider with <see cref="OnnxModelOptions.IoBinding"/>): one <c>Run</c> with every
/// output allocated beforehand, the presents as host tensors of the new length and the logits as a view of the pinned
/// buffer, so ONNX Runtime neither allocates nor returns outputs. Per call it costs 3–4 % less than the IO binding's
/// per-name binds and output collection on the transformer demo pair (docs/benchmarks.md, issue 15), which is what ONNX
/// Runtime GenAI's loop does too. A cache with holes is compacted by copying the kept rows on the host: a session call
/// costs more than the copy there (1.4–3 % of a low-acceptance run's time, docs/benchmarks.md).
/// </summary>
internal sealed class HostCallPath(DecoderWithPastOnnxModel model, RunOptions runOptions) : IDecoderCallPath
{
    private readonly CallInputs _callInputs = new(model.Schema);
    private readonly LogitsBuffer _logits = new(model.Schema.LogitsType, model.VocabularySize);
    private OrtValue[]? _inputs;
    private OrtValue[]? _outputs;
    private OrtValue[]? _presents;

    public void Compact(KvCache cache)
    {
        cache.CompactOnHost();
        model.CountHostCompaction();
    }

    public void Call(ReadOnlySpan<int> tokens, Span<float> logits, KvCache cache, int total, int start)
    {
        var schema = model.Schema;
        var n = tokens.Length;
        var count = schema.PastNames.Length;
        var inputs = _inputs ??= new OrtValue[schema.InputNames.Length];
        using var mask = cache.MaskView(total);
        _callInputs.Fill(inputs, tokens, mask, start, cache);

        // A prefill that reads no logits asks for the presents only (the logits of a long prompt would need a buffer
        // of prompt × vocabulary).
        var withLogits = !logits.IsEmpty;
        var outputs = withLogits ? _outputs ??= new OrtValue[1 + count] : _presents ??= new OrtValue[count];
        var first = withLogits ? 1 : 0;
        var allocated = 0;
        try
        {
            if (withLogits)
            {
                outputs[0] = _logits.View(n);
            }

            for (var i = 0; i < count; i++)
            {
                outputs[first + i] = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, schema.CacheElementType, schema.CacheShape(total));
                allocated++;
            }

            model.Session.Run(runOptions, schema.InputNames, inputs, withLogits ? schema.OutputNames : schema.PresentNames, outputs);
        }
        catch
        {
            for (var i = 0; i < allocated; i++)
            {
                outputs[first + i].Dispose();
            }

            throw;
        }

        cache.Replace(outputs, first);
        if (withLogits)
        {
            _logits.CopyLastRows(n, logits);
        }
    }

    public void Dispose()
    {
        _callInputs.Dispose();
        _logits.Dispose();
    }
}
