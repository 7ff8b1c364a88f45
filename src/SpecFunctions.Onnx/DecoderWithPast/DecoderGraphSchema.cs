using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SpecFunctions.Core.Models;

namespace SpecFunctions.Onnx;

/// <summary>
/// What a decoder-with-past graph looks like, read once from the session's metadata: the names a call feeds and reads, in
/// call order; the element types of ids, mask and positions; the optional inputs; the KV cache layout (separate or
/// combined, layers, KV heads, head size, element type); the logits type. A graph that does not fit the format is
/// rejected here, with the graph's signature in the message.
/// </summary>
internal sealed class DecoderGraphSchema
{
    public const string InputIds = "input_ids";
    public const string AttentionMask = "attention_mask";
    public const string PositionIds = "position_ids";
    public const string UseCacheBranch = "use_cache_branch";
    public const string Logits = "logits";

    private readonly Action<string> _mismatch;

    /// <param name="mismatch">Throws the model's format-mismatch error for a cause.</param>
    public DecoderGraphSchema(
        IReadOnlyDictionary<string, NodeMetadata> inputs,
        IReadOnlyDictionary<string, NodeMetadata> outputs,
        KvCacheNames cacheNames,
        int vocabularySize,
        string modelPath,
        string graph,
        Action<string> mismatch)
    {
        _mismatch = mismatch;
        IdType = RequireIds(inputs, InputIds, graph);
        MaskType = RequireIds(inputs, AttentionMask, graph);
        PositionType = inputs.ContainsKey(PositionIds) ? RequireIds(inputs, PositionIds, graph) : null;
        HasUseCacheBranch = inputs.ContainsKey(UseCacheBranch);

        Combined = cacheNames.Layout switch
        {
            KvCacheNames.SeparateLayout => false,
            KvCacheNames.CombinedLayout => true,
            _ => throw new ModelLoadException(modelPath, $"unsupported cache layout '{cacheNames.Layout}' (supported: {KvCacheNames.SeparateLayout}, {KvCacheNames.CombinedLayout})"),
        };

        // Past inputs and present outputs in cache order: per layer key then value (separate) or the layer's one tensor (combined).
        List<string> past = [];
        List<string> present = [];
        for (var layer = 0; ; layer++)
        {
            string[] layerPast = Combined ? [CacheName(cacheNames.Past, layer)] : [CacheName(cacheNames.PastKey, layer), CacheName(cacheNames.PastValue, layer)];
            string[] layerPresent = Combined ? [CacheName(cacheNames.Present, layer)] : [CacheName(cacheNames.PresentKey, layer), CacheName(cacheNames.PresentValue, layer)];
            if (!inputs.ContainsKey(layerPast[0]))
            {
                break;
            }

            past.AddRange(layerPast);
            present.AddRange(layerPresent);
        }

        var expected = Combined
            ? $"{CacheName(cacheNames.Past, 0)}, {CacheName(cacheNames.Past, 1)}, … [2, batch, heads, past, headDim]"
            : $"{CacheName(cacheNames.PastKey, 0)}, {CacheName(cacheNames.PastValue, 0)}, … [batch, kvHeads, past, headDim]";
        if (past.Count == 0)
        {
            mismatch($"expected cache inputs {expected} ({graph})");
        }

        foreach (var name in inputs.Keys)
        {
            if (name is not (InputIds or AttentionMask or PositionIds or UseCacheBranch) && !past.Contains(name))
            {
                mismatch($"unexpected input '{name}' (cache inputs: {expected}) ({graph})");
            }
        }

        LayerCount = Combined ? past.Count : past.Count / 2;
        PastNames = [.. past];
        OutputNames = [Logits, .. present];
        var rank = Combined ? 5 : 4;
        var headsAxis = rank - 3;
        var first = inputs[past[0]];
        CacheElementType = first.ElementDataType;
        if (CacheElementType is not (TensorElementType.Float or TensorElementType.Float16)
            || first.Dimensions.Length != rank || first.Dimensions[headsAxis] <= 0 || first.Dimensions[rank - 1] <= 0
            || (Combined && first.Dimensions[0] != 2))
        {
            mismatch($"{past[0]} must be float32 or float16 {(Combined ? "[2, batch, heads, past, headDim]" : "[batch, kvHeads, past, headDim]")} with fixed heads and headDim ({graph})");
        }

        KvHeads = first.Dimensions[headsAxis];
        HeadDim = first.Dimensions[rank - 1];
        for (var i = 0; i < past.Count; i++)
        {
            var meta = inputs[past[i]];
            if (meta.ElementDataType != CacheElementType || meta.Dimensions.Length != rank || meta.Dimensions[headsAxis] != KvHeads || meta.Dimensions[rank - 1] != HeadDim)
            {
                mismatch($"{past[i]} differs from {past[0]} in type or shape ({graph})");
            }

            if (!outputs.TryGetValue(present[i], out var presentMeta) || presentMeta.ElementDataType != CacheElementType)
            {
                mismatch($"missing output '{present[i]}' of type {CacheElementType} ({graph})");
            }
        }

        CacheLeading = Combined ? [2, 1, KvHeads] : [1, KvHeads];
        CacheBlocks = Combined ? 2 * KvHeads : KvHeads;
        PresentNames = OutputNames[1..];

        if (!outputs.TryGetValue(Logits, out var logits)
            || logits.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16)
            || logits.Dimensions.Length != 3
            || (logits.Dimensions[2] > 0 && logits.Dimensions[2] != vocabularySize))
        {
            mismatch($"expected output 'logits' float32/float16 [1, n, {vocabularySize}] ({graph})");
        }

        LogitsType = outputs[Logits].ElementDataType;

        // The order a call feeds its inputs in: ids, mask, the optional position ids and cache flag, then the cache.
        List<string> names = [InputIds, AttentionMask];
        if (PositionType is not null)
        {
            names.Add(PositionIds);
        }

        if (HasUseCacheBranch)
        {
            names.Add(UseCacheBranch);
        }

        InputNames = [.. names, .. PastNames];
    }

    /// <summary>Element type of <c>input_ids</c> (int64 or int32).</summary>
    public TensorElementType IdType { get; }

    /// <summary>Element type of <c>attention_mask</c> (int64 or int32).</summary>
    public TensorElementType MaskType { get; }

    /// <summary>Element type of <c>position_ids</c>; null when the graph derives positions from the cache length.</summary>
    public TensorElementType? PositionType { get; }

    /// <summary>Whether the graph declares optimum's <c>use_cache_branch</c> input.</summary>
    public bool HasUseCacheBranch { get; }

    /// <summary>Element type of the logits (float32 or float16).</summary>
    public TensorElementType LogitsType { get; }

    /// <summary>True for the combined cache layout (one <c>[2, batch, heads, past, headDim]</c> tensor per layer).</summary>
    public bool Combined { get; }

    /// <summary>Transformer layers.</summary>
    public int LayerCount { get; }

    /// <summary>Key/value heads per layer.</summary>
    public int KvHeads { get; }

    /// <summary>Size of one head.</summary>
    public int HeadDim { get; }

    /// <summary>Element type of the KV cache (float32 or float16).</summary>
    public TensorElementType CacheElementType { get; }

    /// <summary>The cache inputs in cache order (per layer key then value, or the layer's one combined tensor).</summary>
    public string[] PastNames { get; }

    /// <summary>Every input a call feeds, in call order: ids, mask, the optional position ids and cache flag, then the cache.</summary>
    public string[] InputNames { get; }

    /// <summary><c>logits</c>, then the present outputs in cache order.</summary>
    public string[] OutputNames { get; }

    /// <summary>The present outputs in cache order (a call that reads no logits asks for these only).</summary>
    public string[] PresentNames { get; }

    /// <summary>
    /// The cache tensors' dimensions before the sequence axis (<c>[1, kvHeads]</c> or <c>[2, 1, heads]</c>).
    /// </summary>
    public long[] CacheLeading { get; }

    /// <summary>The product of <see cref="CacheLeading"/>: the blocks of <c>[sequence, headDim]</c> rows a cache tensor holds.</summary>
    public int CacheBlocks { get; }

    /// <summary>The shape of a cache tensor holding <paramref name="length"/> positions.</summary>
    public long[] CacheShape(long length) => [.. CacheLeading, length, HeadDim];

    private static string CacheName(string pattern, int layer) => pattern.Replace("%d", layer.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private TensorElementType RequireIds(IReadOnlyDictionary<string, NodeMetadata> inputs, string name, string graph)
    {
        if (!inputs.TryGetValue(name, out var meta) || !OrtTensors.IsIdType(meta.ElementDataType) || meta.Dimensions.Length != 2)
        {
            _mismatch($"expected input '{name}' int64[batch, n] ({graph})");
        }

        return inputs[name].ElementDataType;
    }
}
