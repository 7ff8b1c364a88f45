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
public sealed class DecoderWithPastOnnxModel : OnnxLanguageModel
{
    private const string InputIds = "input_ids";
    private const string AttentionMask = "attention_mask";
    private const string PositionIds = "position_ids";
    private const string UseCacheBranch = "use_cache_branch";
    private const string Logits = "logits";

    private readonly string[] _pastNames;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly string[] _presentNames;
    private readonly TensorElementType _idType;
    private readonly TensorElementType _maskType;
    private readonly TensorElementType? _positionType;
    private readonly bool _hasUseCacheBranch;
    private readonly TensorElementType _logitsType;

    // The cache tensors' dimensions before the sequence axis ([1, kvHeads] or [2, 1, heads]) and their product: the
    // blocks of [sequence, headDim] rows a tensor holds.
    private readonly long[] _cacheLeading;
    private readonly int _cacheBlocks;

    // IO binding: the memory the cache stays in (the session's device) and the compaction graph on that device.
    private readonly OrtMemoryInfo? _deviceMemory;
    private readonly Lazy<KvCacheCompactor>? _compactor;
    private int _deviceCompactions;

    // Whether a call of several tokens after a past has succeeded (the graph takes them) or failed (one token per call then).
    private volatile bool _manyTokensAfterPast;
    private volatile bool _oneTokenAfterPast;
    private int _hostCompactions;
    private readonly bool _cacheOnHost;

    internal DecoderWithPastOnnxModel(ModelContext context)
        : base(context)
    {
        var inputs = Session.InputMetadata;
        var outputs = Session.OutputMetadata;
        var graph = $"inputs: {Describe(inputs)}; outputs: {Describe(outputs)}";

        _idType = RequireIds(inputs, InputIds, graph);
        _maskType = RequireIds(inputs, AttentionMask, graph);
        _positionType = inputs.ContainsKey(PositionIds) ? RequireIds(inputs, PositionIds, graph) : null;
        _hasUseCacheBranch = inputs.ContainsKey(UseCacheBranch);

        var cacheNames = Manifest.Cache ?? KvCacheNames.Default;
        Combined = cacheNames.Layout switch
        {
            KvCacheNames.SeparateLayout => false,
            KvCacheNames.CombinedLayout => true,
            _ => throw new ModelLoadException(ModelPath, $"unsupported cache layout '{cacheNames.Layout}' (supported: {KvCacheNames.SeparateLayout}, {KvCacheNames.CombinedLayout})"),
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
            ThrowFormatMismatch($"expected cache inputs {expected} ({graph})");
        }

        foreach (var name in inputs.Keys)
        {
            if (name is not (InputIds or AttentionMask or PositionIds or UseCacheBranch) && !past.Contains(name))
            {
                ThrowFormatMismatch($"unexpected input '{name}' (cache inputs: {expected}) ({graph})");
            }
        }

        LayerCount = Combined ? past.Count : past.Count / 2;
        _pastNames = [.. past];
        _outputNames = [Logits, .. present];
        var rank = Combined ? 5 : 4;
        var headsAxis = rank - 3;
        var first = inputs[past[0]];
        CacheElementType = first.ElementDataType;
        if (CacheElementType is not (TensorElementType.Float or TensorElementType.Float16)
            || first.Dimensions.Length != rank || first.Dimensions[headsAxis] <= 0 || first.Dimensions[rank - 1] <= 0
            || (Combined && first.Dimensions[0] != 2))
        {
            ThrowFormatMismatch($"{past[0]} must be float32 or float16 {(Combined ? "[2, batch, heads, past, headDim]" : "[batch, kvHeads, past, headDim]")} with fixed heads and headDim ({graph})");
        }

        KvHeads = first.Dimensions[headsAxis];
        HeadDim = first.Dimensions[rank - 1];
        for (var i = 0; i < past.Count; i++)
        {
            var meta = inputs[past[i]];
            if (meta.ElementDataType != CacheElementType || meta.Dimensions.Length != rank || meta.Dimensions[headsAxis] != KvHeads || meta.Dimensions[rank - 1] != HeadDim)
            {
                ThrowFormatMismatch($"{past[i]} differs from {past[0]} in type or shape ({graph})");
            }

            if (!outputs.TryGetValue(present[i], out var presentMeta) || presentMeta.ElementDataType != CacheElementType)
            {
                ThrowFormatMismatch($"missing output '{present[i]}' of type {CacheElementType} ({graph})");
            }
        }

        _cacheLeading = Combined ? [2, 1, KvHeads] : [1, KvHeads];
        _cacheBlocks = Combined ? 2 * KvHeads : KvHeads;

        _presentNames = _outputNames[1..];

        if (!outputs.TryGetValue(Logits, out var logits)
            || logits.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16)
            || logits.Dimensions.Length != 3
            || (logits.Dimensions[2] > 0 && logits.Dimensions[2] != VocabularySize))
        {
            ThrowFormatMismatch($"expected output 'logits' float32/float16 [1, n, {VocabularySize}] ({graph})");
        }

        _logitsType = outputs[Logits].ElementDataType;
        IoBinding = context.Options.IoBinding;
        if (IoBinding)
        {
            var device = _deviceMemory = OnnxSessionFactory.DeviceMemory(ExecutionProvider, context.Options.DeviceId);
            _cacheOnHost = ReferenceEquals(device, OrtMemoryInfo.DefaultInstance) && !context.Options.DeviceCodePathOnHost;
            _compactor = new Lazy<KvCacheCompactor>(() => new KvCacheCompactor(
                _pastNames.Length, CacheElementType, _cacheLeading, HeadDim, ExecutionProvider, device, context.Options));
        }

        // The order a call feeds its inputs in: ids, mask, the optional position ids and cache flag, then the cache.
        List<string> names = [InputIds, AttentionMask];
        if (_positionType is not null)
        {
            names.Add(PositionIds);
        }

        if (_hasUseCacheBranch)
        {
            names.Add(UseCacheBranch);
        }

        _inputNames = [.. names, .. _pastNames];
    }

    /// <summary>Transformer layers (pairs of past key/value inputs).</summary>
    public int LayerCount { get; }

    /// <summary>
    /// True for the combined layout (<see cref="KvCacheNames.CombinedLayout"/>: one <c>[2, batch, heads, past, headDim]</c>
    /// tensor per layer, ONNX Runtime's GPT-2 export); false for separate key and value tensors.
    /// </summary>
    public bool Combined { get; }

    /// <summary>Key/value heads per layer (fewer than attention heads under grouped-query attention).</summary>
    public int KvHeads { get; }

    /// <summary>Size of one head.</summary>
    public int HeadDim { get; }

    /// <summary>
    /// True once a call of several tokens after a past failed and sequences of this model append one token per call after
    /// a past: the model builder's MultiHeadAttention graphs (e.g. its Llama exports for the CPU) accept several new tokens
    /// only in the first call. Verification then costs γ + 1 calls instead of one.
    /// </summary>
    public bool OneTokenPerCallAfterPast => _oneTokenAfterPast;

    /// <summary>Element type of the logits (float32 or float16; float16 is widened on the host).</summary>
    public TensorElementType LogitsElementType => _logitsType;

    /// <summary>The cache inputs in cache order (per layer key then value, or the layer's one combined tensor).</summary>
    public IReadOnlyList<string> PastNames => _pastNames;

    /// <summary>The shape of one cache tensor for <c>past</c> positions, with <c>-1</c> standing for the sequence axis.</summary>
    public IReadOnlyList<long> CacheTensorShape => CacheShape(-1);

    /// <summary>Element type of the KV cache (float32 or float16).</summary>
    public TensorElementType CacheElementType { get; }

    /// <summary>
    /// True when calls run through an IO binding that keeps the KV cache in the session's device memory
    /// (<see cref="OnnxModelOptions.IoBinding"/>); false for the plain <c>Run</c> path.
    /// </summary>
    public bool IoBinding { get; }

    /// <summary>How many times sequences of this model compacted their cache on the device (tests read it).</summary>
    internal int DeviceCompactions => Volatile.Read(ref _deviceCompactions);

    /// <summary>How many times sequences of this model compacted a host-resident cache by copying on the host (tests read it).</summary>
    internal int HostCompactions => Volatile.Read(ref _hostCompactions);

    public override IModelSequence CreateSequence() => new Sequence(this);

    /// <summary>
    /// Where a sequence of this model keeps its KV cache: the ONNX Runtime allocator name of its first cache tensor
    /// (<c>Cpu</c>, <c>Cuda</c>), or null before its first call (tests read it).
    /// </summary>
    internal static string? CacheLocation(IModelSequence sequence) =>
        sequence is Sequence { CacheTensor: { } tensor } ? tensor.GetTensorMemoryInfo().Name : null;

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

    private TensorElementType RequireIds(IReadOnlyDictionary<string, NodeMetadata> inputs, string name, string graph)
    {
        if (!inputs.TryGetValue(name, out var meta) || !OrtTensors.IsIdType(meta.ElementDataType) || meta.Dimensions.Length != 2)
        {
            ThrowFormatMismatch($"expected input '{name}' int64[batch, n] ({graph})");
        }

        return inputs[name].ElementDataType;
    }

    private static string CacheName(string pattern, int layer) => pattern.Replace("%d", layer.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    /// <summary>The shape of a cache tensor holding <paramref name="length"/> positions.</summary>
    private long[] CacheShape(long length) => [.. _cacheLeading, length, HeadDim];

    private sealed class Sequence(DecoderWithPastOnnxModel model) : IModelSequence
    {
        // With explicit position ids a rewind copies nothing: the rejected positions' cache rows stay where they are and
        // the attention mask hides them (0), as padding would be. The cache is compacted (valid rows copied together)
        // only when such holes pass a quarter of it. Without position ids the model derives positions from the cache
        // length, so a rewind compacts on the next call.
        private readonly bool _masksHoles = model._positionType is not null;
        private readonly RunOptions _runOptions = new();

        // Present tensors of the last call, [1, kvHeads, _cachedLength, headDim].
        private readonly OrtValue?[] _cache = new OrtValue?[model._pastNames.Length];

        // Cache row of each logical position, ascending (appends go to the end, rewinds drop a suffix).
        private readonly List<int> _slots = [];

        // Call inputs in the order of the model's input names (reused); the pinned attention-mask buffer (1 = the cache
        // row is part of the sequence, 0 = a hole) they view.
        private OrtValue[]? _inputs;
        private OrtValue[]? _outputs;
        private OrtValue[]? _presents;
        private BoundCall? _bound;
        private long[] _longMask = [];
        private int[] _intMask = [];
        private int _cachedLength;
        private bool _disposed;

        public int Length => _slots.Count;

        public OrtValue? CacheTensor => _cache[0];

        public void Append(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            SequenceChecks.Rows(tokens, logits, model.VocabularySize, Length, model.ContextLength);
            if (tokens.IsEmpty)
            {
                return;
            }

            var afterPast = tokens.Length > 1 && _cachedLength > 0;
            if (afterPast && model._oneTokenAfterPast)
            {
                AppendOneByOne(tokens, logits);
                return;
            }

            // The first call of several tokens after a past probes the graph: its failure is expected on some graphs and
            // handled below, so ONNX Runtime is asked not to log it.
            var probe = afterPast && !model._manyTokensAfterPast;
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
                model._oneTokenAfterPast = true;
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
                model._manyTokensAfterPast = true;
            }
        }

        /// <summary>Appends one token per call, writing the logit rows the caller asked for (the last <c>logits.Length / V</c>).</summary>
        private void AppendOneByOne(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            var v = model.VocabularySize;
            var skipped = tokens.Length - (logits.Length / v);
            for (var i = 0; i < tokens.Length; i++)
            {
                AppendCore(tokens.Slice(i, 1), i < skipped ? Span<float>.Empty : logits.Slice((i - skipped) * v, v));
            }
        }

        private void AppendCore(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            if (model.IoBinding)
            {
                if (model._cacheOnHost)
                {
                    AppendHost(tokens, logits);
                }
                else
                {
                    AppendBound(tokens, logits);
                }

                return;
            }

            PrepareCache();
            var n = tokens.Length;
            var total = _cachedLength + n;
            SetMask(_cachedLength, total, 1);
            var inputs = _inputs ??= new OrtValue[model._inputNames.Length];
            var owned = 0;
            try
            {
                inputs[owned++] = OrtTensors.CreateIds(model._idType, tokens);
                inputs[owned++] = MaskView(total);
                if (model._positionType is { } positionType)
                {
                    var start = Length;
                    inputs[owned++] = Filled(positionType, n, i => start + i);
                }

                if (model._hasUseCacheBranch)
                {
                    inputs[owned++] = OrtValue.CreateTensorValueFromMemory(new[] { _cachedLength > 0 }, [1]);
                }

                _cache.CopyTo(inputs, owned);
                var outputs = model.Session.Run(_runOptions, model._inputNames, inputs, model._outputNames);
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
                for (var i = 0; i < _cache.Length; i++)
                {
                    _cache[i]!.Dispose();
                    _cache[i] = outputs[1 + i];
                }

                for (var slot = _cachedLength; slot < total; slot++)
                {
                    _slots.Add(slot);
                }

                _cachedLength = total;
            }
            finally
            {
                for (var i = 0; i < owned; i++)
                {
                    inputs[i].Dispose();
                }
            }
        }

        public void Truncate(int length)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ArgumentOutOfRangeException.ThrowIfNegative(length);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);

            // The dropped positions' rows become holes; nothing is copied here.
            foreach (var slot in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_slots)[length..])
            {
                SetMask(slot, slot + 1, 0);
            }

            _slots.RemoveRange(length, _slots.Count - length);
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var value in _cache)
            {
                value?.Dispose();
            }

            _bound?.Dispose();
            _runOptions.Dispose();
        }

        /// <summary>
        /// A cache in host memory (the CPU provider): one <c>Run</c> with every output allocated beforehand, the presents as
        /// host tensors of the new length and the logits as a view of the pinned buffer, so ONNX Runtime neither allocates
        /// nor returns outputs. Per call it costs 3–4 % less than the IO binding's per-name binds and output collection on
        /// the transformer demo pair (docs/benchmarks.md, issue 15), which is what ONNX Runtime GenAI's loop does too.
        /// </summary>
        private void AppendHost(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            var bound = _bound ??= new BoundCall(model);
            PrepareCacheOnDevice();
            var n = tokens.Length;
            var total = _cachedLength + n;
            SetMask(_cachedLength, total, 1);
            var inputs = _inputs ??= new OrtValue[model._inputNames.Length];
            using var mask = MaskView(total);
            var k = 0;
            inputs[k++] = bound.Ids(tokens);
            inputs[k++] = mask;
            if (model._positionType is not null)
            {
                inputs[k++] = bound.Positions(Length, n);
            }

            if (model._hasUseCacheBranch)
            {
                inputs[k++] = bound.UseCache(_cachedLength > 0);
            }

            _cache.CopyTo(inputs, k);

            // A prefill that reads no logits asks for the presents only (the logits of a long prompt would need a buffer
            // of prompt × vocabulary).
            var withLogits = !logits.IsEmpty;
            var outputs = withLogits ? _outputs ??= new OrtValue[1 + _cache.Length] : _presents ??= new OrtValue[_cache.Length];
            var first = withLogits ? 1 : 0;
            var allocated = 0;
            try
            {
                if (withLogits)
                {
                    outputs[0] = bound.LogitsView(n);
                }

                for (var i = 0; i < _cache.Length; i++)
                {
                    outputs[first + i] = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, model.CacheElementType, model.CacheShape(total));
                    allocated++;
                }

                model.Session.Run(_runOptions, model._inputNames, inputs, withLogits ? model._outputNames : model._presentNames, outputs);
            }
            catch
            {
                for (var i = 0; i < allocated; i++)
                {
                    outputs[first + i].Dispose();
                }

                throw;
            }

            for (var i = 0; i < _cache.Length; i++)
            {
                _cache[i]!.Dispose();
                _cache[i] = outputs[first + i];
            }

            if (withLogits)
            {
                bound.CopyLastRows(n, logits);
            }

            for (var slot = _cachedLength; slot < total; slot++)
            {
                _slots.Add(slot);
            }

            _cachedLength = total;
        }

        /// <summary>
        /// One call through the IO binding: ids, mask and positions are bound from pinned host buffers (ONNX Runtime copies
        /// them to the device at bind time: a few bytes per token), the cache tensors stay where the last call left them,
        /// <c>present.*</c> are bound to the device and become the cache, and logits are written into a pinned host buffer
        /// only when rows are asked for (a prefill leaves them on the device).
        /// </summary>
        private void AppendBound(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            var bound = _bound ??= new BoundCall(model);
            PrepareCacheOnDevice();
            var n = tokens.Length;
            var total = _cachedLength + n;
            SetMask(_cachedLength, total, 1);
            var binding = bound.Binding;
            using var mask = MaskView(total);
            try
            {
                binding.BindInput(InputIds, bound.Ids(tokens));
                binding.BindInput(AttentionMask, mask);
                if (model._positionType is not null)
                {
                    binding.BindInput(PositionIds, bound.Positions(Length, n));
                }

                if (model._hasUseCacheBranch)
                {
                    binding.BindInput(UseCacheBranch, bound.UseCache(_cachedLength > 0));
                }

                for (var i = 0; i < _cache.Length; i++)
                {
                    binding.BindInput(model._pastNames[i], _cache[i]!);
                }

                if (logits.IsEmpty)
                {
                    binding.BindOutputToDevice(Logits, model._deviceMemory!);
                }
                else
                {
                    binding.BindOutput(Logits, bound.LogitsView(n));
                }

                for (var i = 0; i < _cache.Length; i++)
                {
                    binding.BindOutputToDevice(model._outputNames[1 + i], model._deviceMemory!);
                }

                model.Session.RunWithBinding(_runOptions, binding);

                // Bound order: logits, then present.* in cache order. The collection is not disposed: the presents become
                // the cache.
                var outputs = binding.GetOutputValues();
                outputs[0].Dispose();
                for (var i = 0; i < _cache.Length; i++)
                {
                    _cache[i]!.Dispose();
                    _cache[i] = outputs[1 + i];
                }
            }
            finally
            {
                // The binding holds references to the tensors it was given; release them so the old cache is freed now.
                binding.ClearBoundInputs();
                binding.ClearBoundOutputs();
            }

            if (!logits.IsEmpty)
            {
                bound.CopyLastRows(n, logits);
            }

            for (var slot = _cachedLength; slot < total; slot++)
            {
                _slots.Add(slot);
            }

            _cachedLength = total;
        }

        /// <summary>
        /// The IO-binding counterpart of <see cref="PrepareCache"/>: empty cache tensors before the first call, compaction
        /// on the device (<see cref="KvCacheCompactor"/>) under the same policy afterwards. A cache in host memory (the CPU
        /// provider) is compacted by copying the kept rows on the host, as the plain path does: a session call costs more
        /// than the copy there (1.4–3 % of a low-acceptance run's time, docs/benchmarks.md).
        /// </summary>
        private void PrepareCacheOnDevice()
        {
            if (_cache[0] is null)
            {
                // Zero rows: nothing to place on a device; ONNX Runtime accepts the empty host tensors as the first past.
                for (var i = 0; i < _cache.Length; i++)
                {
                    _cache[i] = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, model.CacheElementType, model.CacheShape(0));
                }

                _slots.Clear();
                _cachedLength = 0;
                return;
            }

            var holes = _cachedLength - _slots.Count;
            if (holes == 0 || (_masksHoles && 4 * holes <= _cachedLength))
            {
                return;
            }

            if (model._cacheOnHost)
            {
                CompactOnHost();
                Interlocked.Increment(ref model._hostCompactions);
                return;
            }

            model._compactor!.Value.Compact(_cache, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_slots));
            Interlocked.Increment(ref model._deviceCompactions);
            var length = _slots.Count;
            for (var i = 0; i < length; i++)
            {
                _slots[i] = i;
            }

            SetMask(0, length, 1);
            _cachedLength = length;
        }

        /// <summary>Sets the mask of cache rows [from, to), growing the pinned buffer (and keeping what it held) as needed.</summary>
        private void SetMask(int from, int to, int value)
        {
            if (model._maskType == TensorElementType.Int32)
            {
                Fill(ref _intMask, from, to, value);
            }
            else
            {
                Fill(ref _longMask, from, to, value);
            }
        }

        private static void Fill<T>(ref T[] buffer, int from, int to, T value)
            where T : unmanaged
        {
            if (buffer.Length < to)
            {
                var grown = GC.AllocateArray<T>(Math.Max(to, 2 * buffer.Length), pinned: true);
                buffer.CopyTo(grown, 0);
                buffer = grown;
            }

            buffer.AsSpan(from, to - from).Fill(value);
        }

        /// <summary>The <c>[1, count]</c> attention mask: a view over the pinned buffer (no copy per call).</summary>
        private OrtValue MaskView(int count)
        {
            long[] shape = [1, count];
            return model._maskType == TensorElementType.Int32
                ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _intMask.AsMemory(0, count), shape)
                : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _longMask.AsMemory(0, count), shape);
        }

        private static OrtValue Filled(TensorElementType type, int count, Func<int, int> value)
        {
            var ints = new int[count];
            for (var i = 0; i < count; i++)
            {
                ints[i] = value(i);
            }

            return OrtTensors.CreateIds(type, ints);
        }

        /// <summary>
        /// Empty cache tensors before the first call; afterwards compacts the cache when it has holes the model cannot
        /// skip (no position ids) or more holes than a quarter of its rows.
        /// </summary>
        private void PrepareCache()
        {
            var holes = _cachedLength - _slots.Count;
            if (_cache[0] is not null && (holes == 0 || (_masksHoles && 4 * holes <= _cachedLength)))
            {
                return;
            }

            CompactOnHost();
        }

        /// <summary>Replaces each cache tensor by a new host tensor holding only the kept rows (the whole cache when empty).</summary>
        private void CompactOnHost()
        {
            var elementSize = OrtTensors.ElementSize(model.CacheElementType);
            var rowBytes = model.HeadDim * elementSize;
            var length = _slots.Count;
            for (var i = 0; i < _cache.Length; i++)
            {
                var compacted = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, model.CacheElementType, model.CacheShape(length));
                if (_cache[i] is { } old)
                {
                    // Heads (and, combined, key/value) are the outer dimensions: per block, copy each run of consecutive kept rows at once.
                    var source = old.GetTensorMutableRawData();
                    var target = compacted.GetTensorMutableRawData();
                    for (var head = 0; head < model._cacheBlocks; head++)
                    {
                        var from = head * _cachedLength * rowBytes;
                        var to = head * length * rowBytes;
                        for (var start = 0; start < length;)
                        {
                            var end = start + 1;
                            while (end < length && _slots[end] == _slots[end - 1] + 1)
                            {
                                end++;
                            }

                            var bytes = (end - start) * rowBytes;
                            source.Slice(from + (_slots[start] * rowBytes), bytes).CopyTo(target.Slice(to + (start * rowBytes), bytes));
                            start = end;
                        }
                    }

                    old.Dispose();
                }

                _cache[i] = compacted;
            }

            for (var i = 0; i < length; i++)
            {
                _slots[i] = i;
            }

            SetMask(0, length, 1);
            _cachedLength = length;
        }
    }

    /// <summary>
    /// A sequence's reusable IO-binding state: the binding, pinned host buffers for ids, positions, the cache flag and the
    /// logits, and tensor views over them cached per length (no managed or native allocation per call for them).
    /// </summary>
    private sealed class BoundCall(DecoderWithPastOnnxModel model) : IDisposable
    {
        private readonly bool[] _useCache = GC.AllocateArray<bool>(1, pinned: true);
        private readonly List<OrtValue> _owned = [];
        private long[] _longIds = [];
        private int[] _intIds = [];
        private long[] _longPositions = [];
        private int[] _intPositions = [];
        private float[] _floatLogits = [];
        private Float16[] _halfLogits = [];
        private OrtValue?[] _idViews = [];
        private OrtValue?[] _positionViews = [];
        private OrtValue?[] _logitViews = [];
        private OrtValue? _useCacheView;

        private OrtIoBinding? _binding;

        /// <summary>The binding of the device path, made on first use (a host-resident cache's calls never bind).</summary>
        public OrtIoBinding Binding => _binding ??= model.Session.CreateIoBinding();

        public OrtValue Ids(ReadOnlySpan<int> tokens)
        {
            var n = tokens.Length;
            Grow(ref _idViews, n, ref _longIds, ref _intIds, model._idType);
            if (model._idType == TensorElementType.Int32)
            {
                tokens.CopyTo(_intIds);
            }
            else
            {
                for (var i = 0; i < n; i++)
                {
                    _longIds[i] = tokens[i];
                }
            }

            return _idViews[n] ??= View(model._idType, _longIds, _intIds, n);
        }

        public OrtValue Positions(int start, int n)
        {
            var type = model._positionType!.Value;
            Grow(ref _positionViews, n, ref _longPositions, ref _intPositions, type);
            for (var i = 0; i < n; i++)
            {
                if (type == TensorElementType.Int32)
                {
                    _intPositions[i] = start + i;
                }
                else
                {
                    _longPositions[i] = start + i;
                }
            }

            return _positionViews[n] ??= View(type, _longPositions, _intPositions, n);
        }

        public OrtValue UseCache(bool value)
        {
            _useCache[0] = value;
            return _useCacheView ??= Own(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _useCache.AsMemory(), [1]));
        }

        /// <summary>A <c>[1, n, V]</c> view over the pinned logits buffer, in the graph's logits type.</summary>
        public OrtValue LogitsView(int n)
        {
            var v = model.VocabularySize;
            var half = model._logitsType == TensorElementType.Float16;
            var capacity = half ? _halfLogits.Length : _floatLogits.Length;
            if (n * v > capacity)
            {
                DisposeViews(_logitViews);
                var rows = Math.Max(n, 2 * (capacity / v));
                _logitViews = new OrtValue?[rows + 1];
                if (half)
                {
                    _halfLogits = GC.AllocateArray<Float16>(rows * v, pinned: true);
                }
                else
                {
                    _floatLogits = GC.AllocateArray<float>(rows * v, pinned: true);
                }
            }

            long[] shape = [1, n, v];
            return _logitViews[n] ??= Own(half
                ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _halfLogits.AsMemory(0, n * v), shape)
                : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _floatLogits.AsMemory(0, n * v), shape));
        }

        /// <summary>Copies the last <c>dest.Length / V</c> of the <paramref name="n"/> rows the call wrote, widening float16.</summary>
        public void CopyLastRows(int n, Span<float> dest)
        {
            var start = (n * model.VocabularySize) - dest.Length;
            if (model._logitsType == TensorElementType.Float16)
            {
                var half = System.Runtime.InteropServices.MemoryMarshal.Cast<Float16, Half>(_halfLogits.AsSpan(start, dest.Length));
                for (var i = 0; i < half.Length; i++)
                {
                    dest[i] = (float)half[i];
                }
            }
            else
            {
                _floatLogits.AsSpan(start, dest.Length).CopyTo(dest);
            }
        }

        public void Dispose()
        {
            _binding?.Dispose();
            foreach (var value in _owned)
            {
                value.Dispose();
            }
        }

        private static OrtValue View(TensorElementType type, long[] longs, int[] ints, int n) =>
            type == TensorElementType.Int32
                ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, ints.AsMemory(0, n), [1, n])
                : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, longs.AsMemory(0, n), [1, n]);

        private OrtValue Own(OrtValue value)
        {
            _owned.Add(value);
            return value;
        }

        /// <summary>Grows a pinned id buffer to hold <paramref name="n"/> values; views into the old buffer are dropped.</summary>
        private void Grow(ref OrtValue?[] views, int n, ref long[] longs, ref int[] ints, TensorElementType type)
        {
            if (n < views.Length)
            {
                return;
            }

            DisposeViews(views);
            var capacity = Math.Max(n, 2 * Math.Max(views.Length - 1, 0));
            views = new OrtValue?[capacity + 1];
            if (type == TensorElementType.Int32)
            {
                ints = GC.AllocateArray<int>(capacity, pinned: true);
            }
            else
            {
                longs = GC.AllocateArray<long>(capacity, pinned: true);
            }
        }

        private void DisposeViews(OrtValue?[] views)
        {
            foreach (var view in views)
            {
                if (view is not null)
                {
                    _owned.Remove(view);
                    view.Dispose();
                }
            }
        }
    }
}
