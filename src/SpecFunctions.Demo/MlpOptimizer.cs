using System.Numerics;
using System.Numerics.Tensors;

namespace SpecFunctions.Demo;

/// <summary>
/// One minibatch step of Adam on a <see cref="DemoModelWeights"/>: the batch is cut into a fixed number of shards
/// (independent of the core count), each shard's gradient is computed on its own buffers, possibly in parallel, and the
/// shards are summed in shard order. So the result depends on the seed only, never on thread scheduling.
/// Table rows use lazy Adam: only rows present in the batch move, as in sparse embedding training.
/// </summary>
internal sealed class MlpOptimizer
{
    private const float Beta1 = 0.9f;
    private const float Beta2 = 0.999f;
    private const float Epsilon = 1e-8f;

    private readonly DemoModelWeights _weights;
    private readonly MlpWorkspace[] _shards;
    private readonly int _batchSize;
    private readonly float[] _tableM;
    private readonly float[] _tableV;
    private readonly float[] _tableBiasM;
    private readonly float[] _tableBiasV;
    private readonly float[][] _wM;
    private readonly float[][] _wV;
    private readonly float[][] _bM;
    private readonly float[][] _bV;
    private readonly double[] _shardLoss;
    private readonly float[] _rowGrad;
    private readonly float _weightDecay;
    private int _step;

    public MlpOptimizer(DemoModelWeights weights, int batchSize, int shards, float weightDecay = 0f)
    {
        if (batchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batch size must be at least 1.");
        }

        if (shards < 1 || shards > batchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(shards), shards, "Shards must be in 1..batch size.");
        }

        _weights = weights;
        _batchSize = batchSize;
        _weightDecay = weightDecay;
        var perShard = (batchSize + shards - 1) / shards;
        _shards = Enumerable.Range(0, shards).Select(_ => new MlpWorkspace(weights, perShard, withGradients: true)).ToArray();
        _tableM = new float[weights.Table.Length];
        _tableV = new float[weights.Table.Length];
        _tableBiasM = new float[weights.TableBias.Length];
        _tableBiasV = new float[weights.TableBias.Length];
        _wM = weights.Layers.Select(l => new float[l.W.Length]).ToArray();
        _wV = weights.Layers.Select(l => new float[l.W.Length]).ToArray();
        _bM = weights.Layers.Select(l => new float[l.B.Length]).ToArray();
        _bV = weights.Layers.Select(l => new float[l.B.Length]).ToArray();
        _shardLoss = new double[shards];
        _rowGrad = new float[weights.Config.HiddenSizes[0]];
    }

    public int BatchSize => _batchSize;

    /// <summary>
    /// One step on <see cref="BatchSize"/> windows. Targets are either hard (<paramref name="hardTargets"/>, a byte per
    /// example) or soft (<paramref name="softTargets"/>, <c>[batch, 256]</c> distributions). Returns the mean
    /// cross-entropy of the batch before the step (nats).
    /// </summary>
    public double Step(int[] windows, int[]? hardTargets, float[]? softTargets, float learningRate)
    {
        var shards = _shards.Length;
        var window = _weights.Config.Window;
        var v = DemoModelConfig.VocabularySize;
        var scale = 1f / _batchSize;
        Parallel.For(0, shards, s =>
        {
            var start = s * _batchSize / shards;
            var end = (s + 1) * _batchSize / shards;
            var count = end - start;
            var ws = _shards[s];
            var shardWindows = windows.AsSpan(start * window, count * window);
            ws.Forward(shardWindows, count);
            double loss = 0;
            for (var i = 0; i < count; i++)
            {
                var logits = ws.Logits.AsSpan(i * v, v);
                var max = TensorPrimitives.Max(logits);
                TensorPrimitives.Subtract(logits, max, logits);
                var logSum = MathF.Log(SumExp(logits));
                TensorPrimitives.Subtract(logits, logSum, logits);
                if (hardTargets is not null)
                {
                    var target = hardTargets[start + i];
                    loss -= logits[target];
                    TensorPrimitives.Exp(logits, logits);
                    logits[target] -= 1f;
                }
                else
                {
                    var target = softTargets.AsSpan((start + i) * v, v);
                    loss -= TensorPrimitives.Dot(target, logits);
                    TensorPrimitives.Exp(logits, logits);
                    TensorPrimitives.Subtract(logits, target, logits);
                }

                // Gradient of the mean loss: softmax − target, over the whole batch.
                TensorPrimitives.Multiply(logits, scale, logits);
            }

            _shardLoss[s] = loss;
            ws.Backward(shardWindows, count);
        });

        _step++;
        var correction1 = 1f - MathF.Pow(Beta1, _step);
        var correction2 = 1f - MathF.Pow(Beta2, _step);
        var stepSize = learningRate * MathF.Sqrt(correction2) / correction1;
        // Decoupled weight decay (AdamW) on weight matrices and table rows, not on biases.
        var shrink = 1f - learningRate * _weightDecay;

        for (var l = 0; l < _weights.Layers.Length; l++)
        {
            var layer = _weights.Layers[l];
            ReduceInto(_shards.Select(s => s.LayerWGrad[l]).ToArray(), 0, layer.W.Length);
            Adam(layer.W, _shards[0].LayerWGrad[l], _wM[l], _wV[l], stepSize, shrink);
            ReduceInto(_shards.Select(s => s.LayerBGrad[l]).ToArray(), 0, layer.B.Length);
            Adam(layer.B, _shards[0].LayerBGrad[l], _bM[l], _bV[l], stepSize, 1f);
            foreach (var ws in _shards)
            {
                Array.Clear(ws.LayerWGrad[l]);
                Array.Clear(ws.LayerBGrad[l]);
            }
        }

        ReduceInto(_shards.Select(s => s.TableBiasGrad).ToArray(), 0, _weights.TableBias.Length);
        Adam(_weights.TableBias, _shards[0].TableBiasGrad, _tableBiasM, _tableBiasV, stepSize, 1f);
        foreach (var ws in _shards)
        {
            Array.Clear(ws.TableBiasGrad);
        }

        var h0 = _rowGrad.Length;
        var rows = _shards[0].TouchedRows.Length;
        for (var r = 0; r < rows; r++)
        {
            var touched = false;
            foreach (var ws in _shards)
            {
                touched |= ws.TouchedRows[r];
            }

            if (!touched)
            {
                continue;
            }

            var grad = _rowGrad.AsSpan();
            grad.Clear();
            foreach (var ws in _shards)
            {
                if (ws.TouchedRows[r])
                {
                    var g = ws.TableGrad.AsSpan(r * h0, h0);
                    TensorPrimitives.Add(grad, g, grad);
                    g.Clear();
                    ws.TouchedRows[r] = false;
                }
            }

            Adam(_weights.Table.AsSpan(r * h0, h0), grad, _tableM.AsSpan(r * h0, h0), _tableV.AsSpan(r * h0, h0), stepSize, shrink);
        }

        double total = 0;
        foreach (var loss in _shardLoss)
        {
            total += loss;
        }

        return total / _batchSize;
    }

    private static float SumExp(Span<float> shifted)
    {
        float sum = 0;
        foreach (var x in shifted)
        {
            sum += MathF.Exp(x);
        }

        return sum;
    }

    /// <summary>Sums shard buffers into the first, in shard order.</summary>
    private static void ReduceInto(float[][] buffers, int start, int length)
    {
        var target = buffers[0].AsSpan(start, length);
        for (var s = 1; s < buffers.Length; s++)
        {
            TensorPrimitives.Add(target, buffers[s].AsSpan(start, length), target);
        }
    }

    private static void Adam(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float stepSize, float shrink)
    {
        if (shrink != 1f)
        {
            TensorPrimitives.Multiply(w, shrink, w);
        }

        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<float>.Count;
            var b1 = new Vector<float>(Beta1);
            var b1c = new Vector<float>(1f - Beta1);
            var b2 = new Vector<float>(Beta2);
            var b2c = new Vector<float>(1f - Beta2);
            var eps = new Vector<float>(Epsilon);
            var lr = new Vector<float>(stepSize);
            for (; i <= w.Length - width; i += width)
            {
                var gi = new Vector<float>(g[i..]);
                var mi = b1 * new Vector<float>(m[i..]) + b1c * gi;
                var vi = b2 * new Vector<float>(v[i..]) + b2c * gi * gi;
                mi.CopyTo(m[i..]);
                vi.CopyTo(v[i..]);
                (new Vector<float>(w[i..]) - lr * mi / (Vector.SquareRoot(vi) + eps)).CopyTo(w[i..]);
            }
        }

        for (; i < w.Length; i++)
        {
            m[i] = Beta1 * m[i] + (1f - Beta1) * g[i];
            v[i] = Beta2 * v[i] + (1f - Beta2) * g[i] * g[i];
            w[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) + Epsilon);
        }
    }
}
