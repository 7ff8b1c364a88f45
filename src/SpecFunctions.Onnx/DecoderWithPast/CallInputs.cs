using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SpecFunctions.Onnx;

/// <summary>
/// A sequence's reusable call inputs: pinned host buffers for the ids, the positions and the cache flag, and tensor views
/// over them cached per length (no managed or native allocation per call for them). With the cache's mask and tensors
/// they make the inputs of one call, in <see cref="DecoderGraphSchema.InputNames"/> order.
/// </summary>
internal sealed class CallInputs(DecoderGraphSchema schema) : IDisposable
{
    private readonly bool[] _useCache = GC.AllocateArray<bool>(1, pinned: true);
    private long[] _longIds = [];
    private int[] _intIds = [];
    private long[] _longPositions = [];
    private int[] _intPositions = [];
    private OrtValue?[] _idViews = [];
    private OrtValue?[] _positionViews = [];
    private OrtValue? _useCacheView;

    /// <summary>
    /// Writes the call's inputs into <paramref name="inputs"/> in <see cref="DecoderGraphSchema.InputNames"/> order: ids,
    /// <paramref name="mask"/>, positions from <paramref name="start"/>, the cache flag, then the cache tensors.
    /// </summary>
    public void Fill(OrtValue[] inputs, ReadOnlySpan<int> tokens, OrtValue mask, int start, KvCache cache)
    {
        var k = 0;
        inputs[k++] = Ids(tokens);
        inputs[k++] = mask;
        if (schema.PositionType is not null)
        {
            inputs[k++] = Positions(start, tokens.Length);
        }

        if (schema.HasUseCacheBranch)
        {
            inputs[k++] = UseCache(cache.CachedLength > 0);
        }

        cache.Tensors.CopyTo(inputs, k);
    }

    public void Dispose()
    {
        DisposeViews(_idViews);
        DisposeViews(_positionViews);
        _useCacheView?.Dispose();
    }

    private OrtValue Ids(ReadOnlySpan<int> tokens)
    {
        var type = schema.IdType;
        var n = tokens.Length;
        Grow(ref _idViews, n, ref _longIds, ref _intIds, type);
        if (type == TensorElementType.Int32)
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

        return _idViews[n] ??= View(type, _longIds, _intIds, n);
    }

    private OrtValue Positions(int start, int n)
    {
        var type = schema.PositionType!.Value;
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

    private OrtValue UseCache(bool value)
    {
        _useCache[0] = value;
        return _useCacheView ??= OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _useCache.AsMemory(), [1]);
    }

    private static OrtValue View(TensorElementType type, long[] longs, int[] ints, int n) =>
        type == TensorElementType.Int32
            ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, ints.AsMemory(0, n), [1, n])
            : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, longs.AsMemory(0, n), [1, n]);

    /// <summary>Grows a pinned id buffer to hold <paramref name="n"/> values; views into the old buffer are dropped.</summary>
    private static void Grow(ref OrtValue?[] views, int n, ref long[] longs, ref int[] ints, TensorElementType type)
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

    private static void DisposeViews(OrtValue?[] views)
    {
        foreach (var view in views)
        {
            view?.Dispose();
        }
    }
}
