namespace SpecFunctions.OnnxGraphs;

/// <summary>Shape of a <see cref="TinyTransformer"/>. Defaults: 2 layers, 2 heads, width 32, vocabulary 260 (256 bytes + 4 specials, so the byte tokenizer fits).</summary>
public sealed record TinyTransformerConfig
{
    public int VocabularySize { get; init; } = 260;

    public int ModelDim { get; init; } = 32;

    public int Heads { get; init; } = 2;

    public int Layers { get; init; } = 2;

    /// <summary>Width of the MLP's hidden layer.</summary>
    public int HiddenDim { get; init; } = 64;

    /// <summary>Rows of the learned position table: the longest sequence (the manifest's context length).</summary>
    public int MaxPositions { get; init; } = 1024;

    /// <summary>Seed of the random weights.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Scale of the random weights; larger gives peakier next-token distributions. Default 1.</summary>
    public float WeightScale { get; init; } = 1f;

    /// <summary>
    /// When true the graph's KV cache inputs/outputs and logits are float16 (computation stays float32 inside), as in
    /// half-precision exports. Default false.
    /// </summary>
    public bool Float16 { get; init; }

    /// <summary>
    /// When true the whole graph is float16 (weights, activations, KV cache, logits), as in a half-precision export for a
    /// GPU; for timing large random-weight models (the float64 <see cref="TinyTransformer.Forward"/> reference then agrees
    /// only to half precision). Default false.
    /// </summary>
    public bool HalfPrecision { get; init; }

    /// <summary>
    /// When false the graph has no <c>position_ids</c> input and derives positions from the cache length (so a rewind
    /// must shorten the cache itself). Default true.
    /// </summary>
    public bool PositionIdsInput { get; init; } = true;

    /// <summary>When true the graph declares optimum's <c>use_cache_branch</c> bool input (unused). Default false.</summary>
    public bool UseCacheBranchInput { get; init; }

    /// <summary>
    /// When true the graph has ONNX Runtime's GPT-2 cache layout: one <c>past_{i}</c> / <c>present_{i}</c> tensor per layer,
    /// <c>[2, batch, heads, past, headDim]</c> (key, value), instead of separate key and value tensors. Default false.
    /// </summary>
    public bool CombinedCache { get; init; }

    /// <summary>
    /// When true the graph adds a zero mask built as the model builder's MultiHeadAttention exports build their causal mask:
    /// <c>[n, n]</c> expanded to <c>[1, 1, n, past + n]</c>, which fails for several new tokens after a past (n &gt; 1,
    /// past &gt; 0), as those graphs do. Default false.
    /// </summary>
    public bool SquareCausalMask { get; init; }

    /// <summary>Parameter count (embeddings, positions, layers, final norm, LM head).</summary>
    public long Parameters =>
        ((long)VocabularySize * ModelDim * 2) + ((long)MaxPositions * ModelDim) + (2L * ModelDim)
        + (Layers * ((4L * ModelDim * ModelDim) + (2L * ModelDim * HiddenDim) + HiddenDim + (5L * ModelDim)));

    public int HeadDim => ModelDim / Heads;

    public void Validate()
    {
        if (VocabularySize <= 0 || ModelDim <= 0 || Heads <= 0 || Layers <= 0 || HiddenDim <= 0 || MaxPositions <= 0 || ModelDim % Heads != 0)
        {
            throw new ArgumentException($"invalid tiny transformer config {this}: sizes must be > 0 and ModelDim divisible by Heads");
        }
    }
}

/// <summary>Weights of one layer; matrices are row-major <c>[in, out]</c>.</summary>
public sealed record TinyTransformerLayer(
    float[] Norm1Scale,
    float[] Norm1Bias,
    float[] Query,
    float[] Key,
    float[] Value,
    float[] Output,
    float[] Norm2Scale,
    float[] Norm2Bias,
    float[] Up,
    float[] UpBias,
    float[] Down,
    float[] DownBias);

/// <summary>
/// A pre-norm GPT-style decoder with random (or given, <see cref="FromWeights"/>) weights (learned positions, LayerNorm, multi-head causal attention, SiLU MLP):
/// small enough to write as ONNX in code (<see cref="TinyTransformerBuilder"/>) and to recompute in plain C#
/// (<see cref="Forward"/>) as a reference.
/// </summary>
public sealed class TinyTransformer
{
    public const float NormEpsilon = 1e-5f;

    private TinyTransformer(TinyTransformerConfig config)
    {
        config.Validate();
        Config = config;
        var random = new Random(config.Seed);
        int d = config.ModelDim, h = config.HiddenDim, v = config.VocabularySize;
        var s = config.WeightScale;
        TokenEmbedding = Uniform(random, v * d, s);
        PositionEmbedding = Uniform(random, config.MaxPositions * d, 0.3f * s);
        Layers = [.. Enumerable.Range(0, config.Layers).Select(_ => new TinyTransformerLayer(
            Uniform(random, d, 0.2f, 1f), Uniform(random, d, 0.2f),
            Uniform(random, d * d, s / MathF.Sqrt(d)), Uniform(random, d * d, s / MathF.Sqrt(d)),
            Uniform(random, d * d, s / MathF.Sqrt(d)), Uniform(random, d * d, s / MathF.Sqrt(d)),
            Uniform(random, d, 0.2f, 1f), Uniform(random, d, 0.2f),
            Uniform(random, d * h, s / MathF.Sqrt(d)), Uniform(random, h, 0.1f),
            Uniform(random, h * d, s / MathF.Sqrt(h)), Uniform(random, d, 0.1f)))];
        FinalNormScale = Uniform(random, d, 0.2f, 1f);
        FinalNormBias = Uniform(random, d, 0.2f);
        LmHead = Uniform(random, d * v, 3f * s / MathF.Sqrt(d));
    }

    private TinyTransformer(
        TinyTransformerConfig config,
        float[] tokenEmbedding,
        float[] positionEmbedding,
        IReadOnlyList<TinyTransformerLayer> layers,
        float[] finalNormScale,
        float[] finalNormBias,
        float[] lmHead)
    {
        config.Validate();
        int d = config.ModelDim, h = config.HiddenDim, v = config.VocabularySize;
        Check(tokenEmbedding, v * d, "token embedding");
        Check(positionEmbedding, config.MaxPositions * d, "position embedding");
        if (layers.Count != config.Layers)
        {
            throw new ArgumentException($"{layers.Count} layers given, the config has {config.Layers}", nameof(layers));
        }

        foreach (var layer in layers)
        {
            Check(layer.Norm1Scale, d, "norm1 scale");
            Check(layer.Norm1Bias, d, "norm1 bias");
            Check(layer.Query, d * d, "query");
            Check(layer.Key, d * d, "key");
            Check(layer.Value, d * d, "value");
            Check(layer.Output, d * d, "output");
            Check(layer.Norm2Scale, d, "norm2 scale");
            Check(layer.Norm2Bias, d, "norm2 bias");
            Check(layer.Up, d * h, "up");
            Check(layer.UpBias, h, "up bias");
            Check(layer.Down, h * d, "down");
            Check(layer.DownBias, d, "down bias");
        }

        Check(finalNormScale, d, "final norm scale");
        Check(finalNormBias, d, "final norm bias");
        Check(lmHead, d * v, "lm head");
        Config = config;
        TokenEmbedding = tokenEmbedding;
        PositionEmbedding = positionEmbedding;
        Layers = layers;
        FinalNormScale = finalNormScale;
        FinalNormBias = finalNormBias;
        LmHead = lmHead;

        static void Check(float[] values, int length, string what)
        {
            ArgumentNullException.ThrowIfNull(values, what);
            if (values.Length != length)
            {
                throw new ArgumentException($"{what}: {values.Length} values, the config needs {length}");
            }
        }
    }

    public TinyTransformerConfig Config { get; }

    public float[] TokenEmbedding { get; }

    public float[] PositionEmbedding { get; }

    public IReadOnlyList<TinyTransformerLayer> Layers { get; }

    public float[] FinalNormScale { get; }

    public float[] FinalNormBias { get; }

    public float[] LmHead { get; }

    /// <summary>Draws the weights from <see cref="TinyTransformerConfig.Seed"/>.</summary>
    public static TinyTransformer Create(TinyTransformerConfig? config = null) => new(config ?? new TinyTransformerConfig());

    /// <summary>
    /// A model with given (e.g. trained) weights, matrices row-major <c>[in, out]</c>; <see cref="TinyTransformerConfig.Seed"/>
    /// and <see cref="TinyTransformerConfig.WeightScale"/> are ignored. Throws when a size does not fit the config.
    /// </summary>
    public static TinyTransformer FromWeights(
        TinyTransformerConfig config,
        float[] tokenEmbedding,
        float[] positionEmbedding,
        IReadOnlyList<TinyTransformerLayer> layers,
        float[] finalNormScale,
        float[] finalNormBias,
        float[] lmHead)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(layers);
        return new(config, tokenEmbedding, positionEmbedding, layers, finalNormScale, finalNormBias, lmHead);
    }

    /// <summary>
    /// Reference forward pass: full recompute without a cache, in double precision. Returns next-token logits for every
    /// position, row-major <c>[tokens.Length, VocabularySize]</c>.
    /// </summary>
    public float[] Forward(ReadOnlySpan<int> tokens)
    {
        int n = tokens.Length, d = Config.ModelDim, heads = Config.Heads, hd = Config.HeadDim, hidden = Config.HiddenDim, v = Config.VocabularySize;
        if (n > Config.MaxPositions)
        {
            throw new ArgumentException($"{n} tokens exceed {Config.MaxPositions} positions", nameof(tokens));
        }

        var x = new double[n, d];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < d; j++)
            {
                x[i, j] = (double)TokenEmbedding[(tokens[i] * d) + j] + PositionEmbedding[(i * d) + j];
            }
        }

        var scale = 1.0 / Math.Sqrt(hd);
        foreach (var layer in Layers)
        {
            var normed = Norm(x, layer.Norm1Scale, layer.Norm1Bias);
            var q = MatMul(normed, layer.Query, d);
            var k = MatMul(normed, layer.Key, d);
            var val = MatMul(normed, layer.Value, d);
            var context = new double[n, d];
            var weights = new double[n];
            for (var head = 0; head < heads; head++)
            {
                var offset = head * hd;
                for (var i = 0; i < n; i++)
                {
                    var max = double.NegativeInfinity;
                    for (var j = 0; j <= i; j++)
                    {
                        double dot = 0;
                        for (var c = 0; c < hd; c++)
                        {
                            dot += q[i, offset + c] * k[j, offset + c];
                        }

                        weights[j] = dot * scale;
                        max = Math.Max(max, weights[j]);
                    }

                    double sum = 0;
                    for (var j = 0; j <= i; j++)
                    {
                        weights[j] = Math.Exp(weights[j] - max);
                        sum += weights[j];
                    }

                    for (var j = 0; j <= i; j++)
                    {
                        for (var c = 0; c < hd; c++)
                        {
                            context[i, offset + c] += weights[j] / sum * val[j, offset + c];
                        }
                    }
                }
            }

            AddInPlace(x, MatMul(context, layer.Output, d));
            var up = MatMul(Norm(x, layer.Norm2Scale, layer.Norm2Bias), layer.Up, hidden);
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < hidden; j++)
                {
                    var m = up[i, j] + layer.UpBias[j];
                    up[i, j] = m / (1 + Math.Exp(-m));
                }
            }

            var down = MatMul(up, layer.Down, d);
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < d; j++)
                {
                    x[i, j] += down[i, j] + layer.DownBias[j];
                }
            }
        }

        var logits = MatMul(Norm(x, FinalNormScale, FinalNormBias), LmHead, v);
        var result = new float[n * v];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < v; j++)
            {
                result[(i * v) + j] = (float)logits[i, j];
            }
        }

        return result;
    }

    private static float[] Uniform(Random random, int count, float scale, float center = 0f)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = center + (scale * (float)((random.NextDouble() * 2) - 1));
        }

        return values;
    }

    private static double[,] Norm(double[,] x, float[] scale, float[] bias)
    {
        int n = x.GetLength(0), d = x.GetLength(1);
        var result = new double[n, d];
        for (var i = 0; i < n; i++)
        {
            double mean = 0, variance = 0;
            for (var j = 0; j < d; j++)
            {
                mean += x[i, j];
            }

            mean /= d;
            for (var j = 0; j < d; j++)
            {
                variance += (x[i, j] - mean) * (x[i, j] - mean);
            }

            var inverse = 1.0 / Math.Sqrt((variance / d) + NormEpsilon);
            for (var j = 0; j < d; j++)
            {
                result[i, j] = ((x[i, j] - mean) * inverse * scale[j]) + bias[j];
            }
        }

        return result;
    }

    private static double[,] MatMul(double[,] x, float[] w, int outDim)
    {
        int n = x.GetLength(0), inDim = x.GetLength(1);
        var result = new double[n, outDim];
        for (var i = 0; i < n; i++)
        {
            for (var c = 0; c < inDim; c++)
            {
                var xi = x[i, c];
                for (var j = 0; j < outDim; j++)
                {
                    result[i, j] += xi * w[(c * outDim) + j];
                }
            }
        }

        return result;
    }

    private static void AddInPlace(double[,] x, double[,] y)
    {
        for (var i = 0; i < x.GetLength(0); i++)
        {
            for (var j = 0; j < x.GetLength(1); j++)
            {
                x[i, j] += y[i, j];
            }
        }
    }
}
