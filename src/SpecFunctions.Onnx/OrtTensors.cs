using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SpecFunctions.Onnx;

internal static class OrtTensors
{
    /// <summary>
    /// Copies the last <c>dest.Length / vocabularySize</c> rows of a <c>[1, rows, V]</c> logits tensor into <paramref name="dest"/>,
    /// converting float16 to float32.
    /// </summary>
    public static void CopyLastRows(OrtValue logits, int vocabularySize, Span<float> dest, string modelPath)
    {
        var info = logits.GetTensorTypeAndShape();
        var shape = info.Shape;
        if (shape.Length != 3 || shape[2] != vocabularySize)
        {
            throw new InvalidOperationException($"{modelPath}: logits have shape [{string.Join(",", shape)}], expected [1, rows, {vocabularySize}]");
        }

        var rows = dest.Length / vocabularySize;
        var start = (int)((shape[1] - rows) * vocabularySize);
        switch (info.ElementDataType)
        {
            case TensorElementType.Float:
                logits.GetTensorDataAsSpan<float>().Slice(start, dest.Length).CopyTo(dest);
                break;
            case TensorElementType.Float16:
                var half = MemoryMarshal.Cast<Float16, Half>(logits.GetTensorDataAsSpan<Float16>()).Slice(start, dest.Length);
                for (var i = 0; i < half.Length; i++)
                {
                    dest[i] = (float)half[i];
                }

                break;
            default:
                throw new InvalidOperationException($"{modelPath}: logits are {info.ElementDataType}, expected Float or Float16");
        }
    }

    /// <summary>A <c>[1, n]</c> tensor of ids in the element type the graph declares (int64 or int32).</summary>
    public static OrtValue CreateIds(TensorElementType type, ReadOnlySpan<int> values)
    {
        long[] shape = [1, values.Length];
        if (type == TensorElementType.Int32)
        {
            return OrtValue.CreateTensorValueFromMemory(values.ToArray(), shape);
        }

        var longs = new long[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            longs[i] = values[i];
        }

        return OrtValue.CreateTensorValueFromMemory(longs, shape);
    }

    public static bool IsIdType(TensorElementType type) => type is TensorElementType.Int64 or TensorElementType.Int32;

    public static int ElementSize(TensorElementType type) => type switch
    {
        TensorElementType.Float => 4,
        TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
        _ => throw new NotSupportedException($"element type {type}"),
    };
}
