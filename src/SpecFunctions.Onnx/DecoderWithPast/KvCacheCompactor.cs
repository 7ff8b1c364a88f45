using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SpecFunctions.OnnxGraphs;

namespace SpecFunctions.Onnx;

/// <summary>
/// Compacts a decoder-with-past KV cache on the device it lives on: a one-node-per-tensor ONNX graph
/// (<c>Gather(cache.i, rows)</c> along the sequence axis) run by a session on the model's execution provider through an IO binding, so
/// the kept rows are copied device → device and nothing of the cache reaches the host (only the row indices travel,
/// host → device). Thread-safe: each call has its own binding.
/// </summary>
internal sealed class KvCacheCompactor : IDisposable
{
    private const string Rows = "rows";

    private readonly InferenceSession _session;
    private readonly OrtMemoryInfo _device;
    private readonly string[] _inputs;
    private readonly string[] _outputs;
    private readonly RunOptions _runOptions = new();

    /// <param name="tensors">Cache tensors per sequence (2 × layers).</param>
    /// <param name="type">Cache element type.</param>
    /// <param name="leading">The dimensions before the sequence axis: <c>[1, kvHeads]</c>, or <c>[2, 1, heads]</c> for the combined layout.</param>
    /// <param name="headDim">Head size (the last dimension).</param>
    /// <param name="executionProvider">The model session's provider.</param>
    /// <param name="device">Where the compacted tensors go: the model session's device memory (not owned).</param>
    /// <param name="options">The model's session options (device id, threads).</param>
    public KvCacheCompactor(int tensors, TensorElementType type, long[] leading, long headDim, string executionProvider, OrtMemoryInfo device, OnnxModelOptions options)
    {
        _device = device;
        _inputs = [.. Enumerable.Range(0, tensors).Select(i => $"cache.{i}")];
        _outputs = [.. Enumerable.Range(0, tensors).Select(i => $"compacted.{i}")];
        var elementType = type == TensorElementType.Float16 ? OnnxGraphWriter.Float16Type : OnnxGraphWriter.FloatType;
        var g = new OnnxGraphWriter("kv_cache_compaction");
        var rows = g.Input(Rows, OnnxGraphWriter.Int64Type, "kept");
        for (var i = 0; i < tensors; i++)
        {
            var input = g.Input(_inputs[i], elementType, [.. leading.Cast<object>(), "cached", headDim]);
            g.Node("Gather", [input, rows], _outputs[i], OnnxGraphWriter.Attribute("axis", (long)leading.Length));
            g.Output(_outputs[i], elementType, [.. leading.Cast<object>(), "kept", headDim]);
        }

        _session = OnnxSessionFactory.CreateOnProvider(g.ToModel().ToByteArray(), executionProvider, options);
    }

    /// <summary>
    /// Replaces every tensor of <paramref name="cache"/> (<c>[…leading, cached, headDim]</c>) by one holding only the rows
    /// listed in <paramref name="rows"/>, in that order, and disposes the old tensors.
    /// </summary>
    public void Compact(OrtValue?[] cache, ReadOnlySpan<int> rows)
    {
        var indices = new long[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            indices[i] = rows[i];
        }

        using var rowValue = OrtValue.CreateTensorValueFromMemory(indices, [indices.Length]);
        using var binding = _session.CreateIoBinding();
        binding.BindInput(Rows, rowValue);
        for (var i = 0; i < cache.Length; i++)
        {
            binding.BindInput(_inputs[i], cache[i]!);
            binding.BindOutputToDevice(_outputs[i], _device);
        }

        _session.RunWithBinding(_runOptions, binding);

        // The collection is not disposed: its values become the cache.
        var compacted = binding.GetOutputValues();
        for (var i = 0; i < cache.Length; i++)
        {
            cache[i]!.Dispose();
            cache[i] = compacted[i];
        }
    }

    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }
}
