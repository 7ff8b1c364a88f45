using Microsoft.ML.OnnxRuntime;

namespace SpecFunctions.Onnx;

/// <summary>
/// The plain path (<see cref="OnnxModelOptions.IoBinding"/> off): each call creates its id, position and cache-flag
/// tensors, ONNX Runtime allocates the outputs, and a cache with holes is compacted by copying on the host.
/// </summary>
internal sealed class RunCallPath(DecoderWithPastOnnxModel model, RunOptions runOptions) : IDecoderCallPath
{
    // Call inputs in the order of the schema's input names (the array is reused, the tensors are not).
    private OrtValue[]? _inputs;

    public void Compact(KvCache cache) => cache.CompactOnHost();

    public void Call(ReadOnlySpan<int> tokens, Span<float> logits, KvCache cache, int total, int start)
    {
        var schema = model.Schema;
        var n = tokens.Length;
        var inputs = _inputs ??= new OrtValue[schema.InputNames.Length];
        var owned = 0;
        try
        {
            inputs[owned++] = OrtTensors.CreateIds(schema.IdType, tokens);
            inputs[owned++] = cache.MaskView(total);
            if (schema.PositionType is { } positionType)
            {
                var positions = new int[n];
                for (var i = 0; i < n; i++)
                {
                    positions[i] = start + i;
                }

                inputs[owned++] = OrtTensors.CreateIds(positionType, positions);
            }

            if (schema.HasUseCacheBranch)
            {
                inputs[owned++] = OrtValue.CreateTensorValueFromMemory(new[] { cache.CachedLength > 0 }, [1]);
            }

            cache.Tensors.CopyTo(inputs, owned);
            var outputs = model.Session.Run(runOptions, schema.InputNames, inputs, schema.OutputNames);
            try
            {
                if (!logits.IsEmpty)
                {
                    OrtTensors.CopyLastRows(outputs[0], model.VocabularySize, logits, model.ModelPath);
                }
            }
            catch
            {
                outputs.Dispose();
                throw;
            }

            outputs[0].Dispose();
            cache.Replace(outputs, 1);
        }
        finally
        {
            for (var i = 0; i < owned; i++)
            {
                inputs[i].Dispose();
            }
        }
    }

    public void Dispose()
    {
    }
}
