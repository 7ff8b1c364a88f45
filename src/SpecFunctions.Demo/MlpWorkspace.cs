using System.Numerics.Tensors;

namespace SpecFunctions.Demo;

/// <summary>
/// Buffers for running a batch of windows through a <see cref="DemoModelWeights"/>: activations for the forward pass,
/// gradients for the backward pass. One per thread; loops run k-outer so each weight row stays in L1 while it is
/// applied to every example of the batch.
/// </summary>
internal sealed class MlpWorkspace
{
    private readonly DemoModelWeights _weights;
    private readonly float[][] _activations;
    private readonly float[] _gradA;
    private readonly float[] _gradB;

    public MlpWorkspace(DemoModelWeights weights, int capacity, bool withGradients)
    {
        _weights = weights;
        Capacity = capacity;
        var config = weights.Config;
        _activations = new float[config.HiddenSizes.Count][];
        for (var l = 0; l < _activations.Length; l++)
        {
            _activations[l] = new float[capacity * config.HiddenSizes[l]];
        }

        Logits = new float[capacity * DemoModelConfig.VocabularySize];
        var widest = Math.Max(config.HiddenSizes.Max(), DemoModelConfig.VocabularySize);
        _gradA = new float[capacity * widest];
        _gradB = new float[capacity * widest];
        if (withGradients)
        {
            TableGrad = new float[weights.Table.Length];
            TableBiasGrad = new float[weights.TableBias.Length];
            TouchedRows = new bool[config.Window * DemoModelConfig.TableRows];
            LayerWGrad = weights.Layers.Select(l => new float[l.W.Length]).ToArray();
            LayerBGrad = weights.Layers.Select(l => new float[l.B.Length]).ToArray();
        }
        else
        {
            TableGrad = TableBiasGrad = [];
            TouchedRows = [];
            LayerWGrad = LayerBGrad = [];
        }
    }

    public int Capacity { get; }

    /// <summary>Logits of the last forward pass, <c>[count, 256]</c>; the backward pass reads its gradient from here.</summary>
    public float[] Logits { get; }

    public float[] TableGrad { get; }

    public float[] TableBiasGrad { get; }

    public bool[] TouchedRows { get; }

    public float[][] LayerWGrad { get; }

    public float[][] LayerBGrad { get; }

    /// <summary>Forward pass for <paramref name="count"/> windows (<c>[count, Window]</c> ids, pad = 256) into <see cref="Logits"/>.</summary>
    public void Forward(ReadOnlySpan<int> windows, int count)
    {
        var config = _weights.Config;
        var window = config.Window;
        var h0 = config.HiddenSizes[0];
        var table = _weights.Table;
        var a0 = _activations[0];
        for (var i = 0; i < count; i++)
        {
            var row = a0.AsSpan(i * h0, h0);
            _weights.TableBias.CopyTo(row);
            for (var k = 0; k < window; k++)
            {
                var r = (k * DemoModelConfig.TableRows + windows[i * window + k]) * h0;
                TensorPrimitives.Add(row, table.AsSpan(r, h0), row);
            }

            TensorPrimitives.Max(row, 0f, row);
        }

        var layers = _weights.Layers;
        for (var l = 0; l < layers.Length; l++)
        {
            var layer = layers[l];
            var input = _activations[l];
            var output = l + 1 < layers.Length ? _activations[l + 1] : Logits;
            Dense(layer, input, output, count);
            if (l + 1 < layers.Length)
            {
                TensorPrimitives.Max(output.AsSpan(0, count * layer.Output), 0f, output.AsSpan(0, count * layer.Output));
            }
        }
    }

    /// <summary>
    /// Accumulates parameter gradients for the logit gradients the caller wrote into <see cref="Logits"/>
    /// (after a <see cref="Forward"/> on the same windows).
    /// </summary>
    public void Backward(ReadOnlySpan<int> windows, int count)
    {
        var layers = _weights.Layers;
        var gradOut = Logits;
        for (var l = layers.Length - 1; l >= 0; l--)
        {
            var layer = layers[l];
            var input = _activations[l];
            var n = layer.Input;
            var m = layer.Output;
            var wGrad = LayerWGrad[l];
            var bGrad = LayerBGrad[l];
            var gradIn = l % 2 == 0 ? _gradA : _gradB;
            for (var i = 0; i < count; i++)
            {
                TensorPrimitives.Add(bGrad, gradOut.AsSpan(i * m, m), bGrad);
            }

            for (var k = 0; k < n; k++)
            {
                var wRow = layer.W.AsSpan(k * m, m);
                var gRow = wGrad.AsSpan(k * m, m);
                for (var i = 0; i < count; i++)
                {
                    var a = input[i * n + k];
                    if (a != 0f)
                    {
                        var g = gradOut.AsSpan(i * m, m);
                        TensorPrimitives.MultiplyAdd(g, a, gRow, gRow);
                        // ReLU: the input was positive, so the gradient flows to it.
                        gradIn[i * n + k] = TensorPrimitives.Dot(g, wRow);
                    }
                    else
                    {
                        gradIn[i * n + k] = 0f;
                    }
                }
            }

            gradOut = gradIn;
        }

        var config = _weights.Config;
        var window = config.Window;
        var h0 = config.HiddenSizes[0];
        for (var i = 0; i < count; i++)
        {
            var g = gradOut.AsSpan(i * h0, h0);
            TensorPrimitives.Add(TableBiasGrad, g, TableBiasGrad);
            for (var k = 0; k < window; k++)
            {
                var row = k * DemoModelConfig.TableRows + windows[i * window + k];
                TouchedRows[row] = true;
                var dst = TableGrad.AsSpan(row * h0, h0);
                TensorPrimitives.Add(dst, g, dst);
            }
        }
    }

    private static void Dense(DenseLayer layer, float[] input, float[] output, int count)
    {
        var n = layer.Input;
        var m = layer.Output;
        for (var i = 0; i < count; i++)
        {
            layer.B.CopyTo(output.AsSpan(i * m, m));
        }

        for (var k = 0; k < n; k++)
        {
            var wRow = layer.W.AsSpan(k * m, m);
            for (var i = 0; i < count; i++)
            {
                var a = input[i * n + k];
                if (a != 0f)
                {
                    var o = output.AsSpan(i * m, m);
                    TensorPrimitives.MultiplyAdd(wRow, a, o, o);
                }
            }
        }
    }

    /// <summary>Fills <paramref name="window"/> with the last Window bytes of <paramref name="context"/>, padding on the left.</summary>
    public static void FillWindow(ReadOnlySpan<byte> context, Span<int> window)
    {
        var n = window.Length;
        for (var k = 0; k < n; k++)
        {
            var pos = context.Length - n + k;
            window[k] = pos >= 0 ? context[pos] : DemoModelConfig.PadId;
        }
    }
}
