using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SpecFunctions.Onnx;

/// <summary>
/// A sequence's KV cache: the present tensors of its last call, the cache row of each logical position, and the pinned
/// attention mask over the cache rows (1 = part of the sequence, 0 = a hole).
/// </summary>
/// <remarks>
/// With explicit position ids a rewind copies nothing: the rejected positions' cache rows stay where they are and the
/// attention mask hides them (0), as padding would be. The cache is compacted (valid rows copied together) only when such
/// holes pass a quarter of it. Without position ids the model derives positions from the cache length, so a rewind
/// compacts on the next call.
/// </remarks>
internal sealed class KvCache(DecoderGraphSchema schema) : IDisposable
{
    private readonly bool _masksHoles = schema.PositionType is not null;

    // Present tensors of the last call, [1, kvHeads, _cachedLength, headDim] (or the combined layout's shape).
    private readonly OrtValue?[] _tensors = new OrtValue?[schema.PastNames.Length];

    // Cache row of each logical position, ascending (appends go to the end, rewinds drop a suffix).
    private readonly List<int> _slots = [];

    private long[] _longMask = [];
    private int[] _intMask = [];
    private int _cachedLength;

    /// <summary>Logical positions (the sequence's length).</summary>
    public int Length => _slots.Count;

    /// <summary>Cache rows, holes included.</summary>
    public int CachedLength => _cachedLength;

    /// <summary>The cache tensors in cache order; null before the first call.</summary>
    public OrtValue?[] Tensors => _tensors;

    /// <summary>
    /// Before a call: empty cache tensors before the first one (zero rows, so nothing to place on a device: ONNX Runtime
    /// accepts the empty host tensors as the first past); afterwards true when the cache has holes the model cannot skip
    /// (no position ids) or more holes than a quarter of its rows, so the call path must compact it first.
    /// </summary>
    public bool Prepare()
    {
        if (_tensors[0] is null)
        {
            for (var i = 0; i < _tensors.Length; i++)
            {
                _tensors[i] = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, schema.CacheElementType, schema.CacheShape(0));
            }

            _slots.Clear();
            _cachedLength = 0;
            return false;
        }

        var holes = _cachedLength - _slots.Count;
        return holes != 0 && !(_masksHoles && 4 * holes <= _cachedLength);
    }

    /// <summary>Masks in the <paramref name="count"/> rows a call appends; returns the cache rows after the call.</summary>
    public int Open(int count)
    {
        var total = _cachedLength + count;
        SetMask(_cachedLength, total, 1);
        return total;
    }

    /// <summary>The <c>[1, count]</c> attention mask: a view over the pinned buffer (no copy per call).</summary>
    public OrtValue MaskView(int count)
    {
        long[] shape = [1, count];
        return schema.MaskType == TensorElementType.Int32
            ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _intMask.AsMemory(0, count), shape)
            : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _longMask.AsMemory(0, count), shape);
    }

    /// <summary>Disposes the cache tensors and takes the call's presents (<paramref name="outputs"/> from <paramref name="first"/> on) in their place.</summary>
    public void Replace(IReadOnlyList<OrtValue> outputs, int first)
    {
        for (var i = 0; i < _tensors.Length; i++)
        {
            _tensors[i]!.Dispose();
            _tensors[i] = outputs[first + i];
        }
    }

    /// <summary>After a successful call: the rows up to <paramref name="total"/> are the sequence's next positions.</summary>
    public void Commit(int total)
    {
        for (var slot = _cachedLength; slot < total; slot++)
        {
            _slots.Add(slot);
        }

        _cachedLength = total;
    }

    /// <summary>Drops the positions from <paramref name="length"/> on: their rows become holes; nothing is copied here.</summary>
    public void Truncate(int length)
    {
        foreach (var slot in CollectionsMarshal.AsSpan(_slots)[length..])
        {
            SetMask(slot, slot + 1, 0);
        }

        _slots.RemoveRange(length, _slots.Count - length);
    }

    /// <summary>Replaces each cache tensor by a new host tensor holding only the kept rows.</summary>
    public void CompactOnHost()
    {
        var elementSize = OrtTensors.ElementSize(schema.CacheElementType);
        var rowBytes = schema.HeadDim * elementSize;
        var length = _slots.Count;
        for (var i = 0; i < _tensors.Length; i++)
        {
            var compacted = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, schema.CacheElementType, schema.CacheShape(length));
            if (_tensors[i] is { } old)
            {
                // Heads (and, combined, key/value) are the outer dimensions: per block, copy each run of consecutive kept rows at once.
                var source = old.GetTensorMutableRawData();
                var target = compacted.GetTensorMutableRawData();
                for (var head = 0; head < schema.CacheBlocks; head++)
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

            _tensors[i] = compacted;
        }

        Renumber();
    }

    /// <summary>Compacts the cache where it lives, through <paramref name="compactor"/> (device → device).</summary>
    public void CompactOnDevice(KvCacheCompactor compactor)
    {
        compactor.Compact(_tensors, CollectionsMarshal.AsSpan(_slots));
        Renumber();
    }

    public void Dispose()
    {
        foreach (var value in _tensors)
        {
            value?.Dispose();
        }
    }

    // After a compaction the kept positions are rows 0..n-1, all unmasked.
    private void Renumber()
    {
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
        if (schema.MaskType == TensorElementType.Int32)
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
}
