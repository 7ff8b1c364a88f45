using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SpecFunctions.Core.Models;

namespace SpecFunctions.Onnx;

/// <summary>
/// Format <c>decoder-with-past</c> (Hugging Face optimum / ONNX Runtime GenAI model builder): inputs <c>input_ids</c>,
/// <c>attention_mask</c>, optional <c>position_ids</c> and <c>use_cache_branch</c>, <c>past_key_values.{i}.key|value</c>
/// <c>[1, kvHeads, past, headDim]</c>; outputs <c>logits</c> <c>[1, n, V]</c> and <c>present.{i}.key|value</c>; or, in the
/// combined layout of ONNX Runtime's GPT-2 export, <c>past_{i}</c> / <c>present_{i}</c> <c>[2, 1, heads, past, headDim]</c>
/// (<see cref="KvCacheNames"/>: the manifest's, or <c>genai_config.json</c>'s, name patterns).
/// Names, layer count, KV heads, head size and cache type (float32/float16) are read from the graph.
/// A sequence keeps the cache as ONNX Runtime tensors between calls; appending n tokens is one forward pass over n positions,
/// and <see cref="IModelSequence.Truncate"/> shortens the cache without re-running anything.
/// </summary>
/// <remarks>
/// The parts, in this folder: <see cref="DecoderGraphSchema"/> (what the graph looks like), <see cref="DecoderWithPastSequence"/>
/// (one call's skeleton), <see cref="KvCache"/> (cache tensors, positions, mask, compaction), <see cref="CallInputs"/> and
/// <see cref="LogitsBuffer"/> (pinned call buffers), and the call paths <see cref="RunCallPath"/>, <see cref="HostCallPath"/>
/// and <see cref="BoundCallPath"/>.
/// </remarks>
public sealed class DecoderWithPastOnnxModel : OnnxLanguageModel
{
    // IO binding: the memory the cache stays in (the session's device) and the compaction graph on that device.
    private readonly OrtMemoryInfo? _deviceMemory;
    private readonly Lazy<KvCacheCompactor>? _compactor;
    private int _deviceCompactions;
    private int _hostCompactions;

    // Whether a call of several tokens after a past has succeeded (the graph takes them) or failed (one token per call then).
    private volatile bool _manyTokensAfterPast;
    private volatile bool _oneTokenAfterPast;

    internal DecoderWithPastOnnxModel(ModelContext context)
        : base(context)
    {
        var inputs = Session.InputMetadata;
        var outputs = Session.OutputMetadata;
        Schema = new DecoderGraphSchema(
            inputs,
            outputs,
            Manifest.Cache ?? KvCacheNames.Default,
            VocabularySize,
            ModelPath,
            $"inputs: {Describe(inputs)}; outputs: {Describe(outputs)}",
            ThrowFormatMismatch);

        IoBinding = context.Options.IoBinding;
        if (IoBinding)
        {
            var device = _deviceMemory = OnnxSessionFactory.DeviceMemory(ExecutionProvider, context.Options.DeviceId);
            CacheOnHost = ReferenceEquals(device, OrtMemoryInfo.DefaultInstance) && !context.Options.DeviceCodePathOnHost;
            var schema = Schema;
            _compactor = new Lazy<KvCacheCompactor>(() => new KvCacheCompactor(
                schema.PastNames.Length, schema.CacheElementType, schema.CacheLeading, schema.HeadDim, ExecutionProvider, device, context.Options));
        }
    }

    /// <summary>Transformer layers (pairs of past key/value inputs).</summary>
    public int LayerCount => Schema.LayerCount;

    /// <summary>
    /// True for the combined layout (<see cref="KvCacheNames.CombinedLayout"/>: one <c>[2, batch, heads, past, headDim]</c>
    /// tensor per layer, ONNX Runtime's GPT-2 export); false for separate key and value tensors.
    /// </summary>
    public bool Combined => Schema.Combined;

    /// <summary>Key/value heads per layer (fewer than attention heads under grouped-query attention).</summary>
    public int KvHeads => Schema.KvHeads;

    /// <summary>Size of one head.</summary>
    public int HeadDim => Schema.HeadDim;

    /// <summary>
    /// True once a call of several tokens after a past failed and sequences of this model append one token per call after
    /// a past: the model builder's MultiHeadAttention graphs (e.g. its Llama exports for the CPU) accept several new tokens
    /// only in the first call. Verification then costs γ + 1 calls instead of one.
    /// </summary>
    public bool OneTokenPerCallAfterPast
    {
        get => _oneTokenAfterPast;
        internal set => _oneTokenAfterPast = value;
    }

    /// <summary>Element type of the logits (float32 or float16; float16 is widened on the host).</summary>
    public TensorElementType LogitsElementType => Schema.LogitsType;

    /// <summary>The cache inputs in cache order (per layer key then value, or the layer's one combined tensor).</summary>
    public IReadOnlyList<string> PastNames => Schema.PastNames;

    /// <summary>The shape of one cache tensor for <c>past</c> positions, with <c>-1</c> standing for the sequence axis.</summary>
    public IReadOnlyList<long> CacheTensorShape => Schema.CacheShape(-1);

    /// <summary>Element type of the KV cache (float32 or float16).</summary>
    public TensorElementType CacheElementType => Schema.CacheElementType;

    /// <summary>
    /// True when calls run through an IO binding that keeps the KV cache in the session's device memory
    /// (<see cref="OnnxModelOptions.IoBinding"/>); false for the plain <c>Run</c> path.
    /// </summary>
    public bool IoBinding { get; }

    /// <summary>The graph's names, types and cache layout.</summary>
    internal DecoderGraphSchema Schema { get; }

    /// <summary>
    /// With <see cref="IoBinding"/>: true when the session's device is the host and the device code path was not asked
    /// for, so sequences take <see cref="HostCallPath"/> instead of <see cref="BoundCallPath"/>.
    /// </summary>
    internal bool CacheOnHost { get; }

    /// <summary>Whether a call of several tokens after a past has succeeded on this model's graph.</summary>
    internal bool ManyTokensAfterPast
    {
        get => _manyTokensAfterPast;
        set => _manyTokensAfterPast = value;
    }

    /// <summary>With <see cref="IoBinding"/>: the memory the cache stays in (the session's device).</summary>
    internal OrtMemoryInfo? DeviceMemory => _deviceMemory;

    /// <summary>With <see cref="IoBinding"/>: the compaction graph on the session's device, made on first use.</summary>
    internal KvCacheCompactor Compactor => _compactor!.Value;

    /// <summary>How many times sequences of this model compacted their cache on the device (tests read it).</summary>
    internal int DeviceCompactions => Volatile.Read(ref _deviceCompactions);

    /// <summary>How many times sequences of this model compacted a host-resident cache by copying on the host (tests read it).</summary>
    internal int HostCompactions => Volatile.Read(ref _hostCompactions);

    public override IModelSequence CreateSequence() => new DecoderWithPastSequence(this);

    /// <summary>
    /// Where a sequence of this model keeps its KV cache: the ONNX Runtime allocator name of its first cache tensor
    /// (<c>Cpu</c>, <c>Cuda</c>), or null before its first call (tests read it).
    /// </summary>
    internal static string? CacheLocation(IModelSequence sequence) =>
        sequence is DecoderWithPastSequence { CacheTensor: { } tensor } ? tensor.GetTensorMemoryInfo().Name : null;

    internal void CountDeviceCompaction() => Interlocked.Increment(ref _deviceCompactions);

    internal void CountHostCompaction() => Interlocked.Increment(ref _hostCompactions);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (_compactor is { IsValueCreated: true })
            {
                _compactor.Value.Dispose();
            }

            if (_deviceMemory is not null && !ReferenceEquals(_deviceMemory, OrtMemoryInfo.DefaultInstance))
            {
                _deviceMemory.Dispose();
            }
        }

        base.Dispose(disposing);
    }
}
