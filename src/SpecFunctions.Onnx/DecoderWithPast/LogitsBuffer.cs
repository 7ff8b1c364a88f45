using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SpecFunctions.Onnx;

/// <summary>
/// A pinned host buffer the graph writes its logits into (float32, or float16 widened on the copy out), with a
/// <c>[1, n, V]</c> tensor view over it cached per row count: no managed or native allocation per call.
/// </summary>
internal sealed class LogitsBuffer(TensorElementType type, int vocabularySize) : IDisposable
{
    private readonly bool _half = type == TensorElementType.Float16;
    private float[] _floatLogits = [];
    private Float16[] _halfLogits = [];
    private OrtValue?[] _views = [];

    /// <summary>A <c>[1, n, V]</c> view over the buffer, in the graph's logits type; grows the buffer when needed.</summary>
    public OrtValue View(int n)
    {
        var v = vocabularySize;
        var capacity = _half ? _halfLogits.Length : _floatLogits.Length;
        if (n * v > capacity)
        {
            DisposeViews();
            var rows = Math.Max(n, 2 * (capacity / v));
            _views = new OrtValue?[rows + 1];
            if (_half)
            {
                _halfLogits = GC.AllocateArray<Float16>(rows * v, pinned: true);
            }
            else
            {
                _floatLogits = GC.AllocateArray<float>(rows * v, pinned: true);
            }
        }

        long[] shape = [1, n, v];
        return _views[n] ??= _half
            ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _halfLogits.AsMemory(0, n * v), shape)
            : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _floatLogits.AsMemory(0, n * v), shape);
    }

    /// <summary>Copies the last <c>dest.Length / V</c> of the <paramref name="n"/> rows the call wrote, widening float16.</summary>
    public void CopyLastRows(int n, Span<float> dest)
    {
        var start = (n * vocabularySize) - dest.Length;
        if (_half)
        {
            var half = MemoryMarshal.Cast<Float16, Half>(_halfLogits.AsSpan(start, dest.Length));
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

    public void Dispose() => DisposeViews();

    private void DisposeViews()
    {
        foreach (var view in _views)
        {
            view?.Dispose();
        }
    }
}
