using Microsoft.ML.OnnxRuntime;

namespace SpecFunctions.Onnx;

/// <summary>
/// A cache in device memory, through an IO binding: ids, mask and positions are bound from pinned host buffers (ONNX
/// Runtime copies them to the device at bind time: a few bytes per token), the cache tensors stay where the last call
/// left them, <c>present.*</c> are bound to the device and become the cache, and logits are written into a pinned host
/// buffer only when rows are asked for (a prefill leaves them on the device). A cache with holes is compacted on the
/// device (<see cref="KvCacheCompactor"/>).
/// </summary>
internal sealed class BoundCallPath(DecoderWithPastOnnxModel model, RunOptions runOptions) : IDecoderCallPath
{
    private readonly CallInputs _callInputs = new(model.Schema);
    private readonly LogitsBuffer _logits = new(model.Schema.LogitsType, model.VocabularySize);
    private OrtValue[]? _inputs;
    private OrtIoBinding? _binding;

    public void Compact(KvCache cache)
    {
        cache.CompactOnDevice(model.Compactor);
        model.CountDeviceCompaction();
    }

    public void Call(ReadOnlySpan<int> tokens, Span<float> logits, KvCache cache, int total, int start)
    {
        var schema = model.Schema;
        var device = model.DeviceMemory!;
        var binding = _binding ??= model.Session.CreateIoBinding();
        var inputs = _inputs ??= new OrtValue[schema.InputNames.Length];
        using var mask = cache.MaskView(total);
        try
        {
            _callInputs.Fill(inputs, tokens, mask, start, cache);
            for (var i = 0; i < inputs.Length; i++)
            {
                binding.BindInput(schema.InputNames[i], inputs[i]);
            }

            if (logits.IsEmpty)
            {
                binding.BindOutputToDevice(DecoderGraphSchema.Logits, device);
            }
            else
            {
                binding.BindOutput(DecoderGraphSchema.Logits, _logits.View(tokens.Length));
            }

            foreach (var present in schema.PresentNames)
            {
                binding.BindOutputToDevice(present, device);
            }

            model.Session.RunWithBinding(runOptions, binding);

            // Bound order: logits, then present.* in cache order. The collection is not disposed: the presents become
            // the cache.
            var outputs = binding.GetOutputValues();
            outputs[0].Dispose();
            cache.Replace(outputs, 1);
        }
        finally
        {
            // The binding holds references to the tensors it was given; release them so the old cache is freed now.
            binding.ClearBoundInputs();
            binding.ClearBoundOutputs();
        }

        if (!logits.IsEmpty)
        {
            _logits.CopyLastRows(tokens.Length, logits);
        }
    }

    public void Dispose()
    {
        _binding?.Dispose();
        _callInputs.Dispose();
        _logits.Dispose();
    }
}
