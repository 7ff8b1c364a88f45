using Microsoft.ML.OnnxRuntime.Tensors;
using SpecFunctions.OnnxGraphs;
using Xunit.Abstractions;

namespace SpecFunctions.Onnx.Tests;

public sealed class DecoderWithPastOnnxModelTests(ITestOutputHelper output) : IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Load_TinyTransformer_DiscoversCacheLayoutFromGraph()
    {
        var config = new TinyTransformerConfig { Layers = 3, Heads = 4, ModelDim = 32 };
        using var model = Assert.IsType<DecoderWithPastOnnxModel>(OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"), config)));

        Assert.Equal(3, model.LayerCount);
        Assert.Equal(4, model.KvHeads);
        Assert.Equal(8, model.HeadDim);
        Assert.Equal(TensorElementType.Float, model.CacheElementType);
        Assert.Equal("CPUExecutionProvider", model.ExecutionProvider);
        Assert.Matches("^sha256:[0-9a-f]{64}$", model.Identity);
    }

    [Fact]
    public void Append_WholePrompt_MatchesReferenceForwardPass()
    {
        var reference = TinyTransformer.Create();
        using var model = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m")));
        int[] tokens = [.. RandomTokens(40, seed: 7)];
        var logits = new float[tokens.Length * model.VocabularySize];

        using var sequence = model.CreateSequence();
        sequence.Append(tokens, logits);

        var diff = Assertions.MaxAbsDiff(reference.Forward(tokens), logits);
        output.WriteLine($"max |onnx - reference| = {diff:E2}");
        Assert.True(diff < Tolerance, $"max difference {diff}");
    }

    [Fact]
    public void Append_OneTokenAtATime200Steps_MatchesFullRecompute()
    {
        var reference = TinyTransformer.Create();
        using var model = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m")));
        var v = model.VocabularySize;
        var tokens = new List<int> { 256, 'T', 'h', 'e' };
        var row = new float[v];
        using var sequence = model.CreateSequence();
        sequence.Append(tokens.ToArray(), row);

        var cachedRows = new List<float[]> { (float[])row.Clone() };
        for (var step = 0; step < 200; step++)
        {
            // Greedy continuation keeps the test on the model's own path.
            var next = Assertions.ArgMax(row);
            tokens.Add(next);
            sequence.Append([next], row);
            cachedRows.Add((float[])row.Clone());
        }

        // Causality: row i of one full recompute over the final sequence is what step i saw, so one reference pass checks all steps.
        var full = reference.Forward(tokens.ToArray());
        double worst = 0;
        for (var step = 0; step <= 200; step++)
        {
            var position = 3 + step;
            worst = Math.Max(worst, Assertions.MaxAbsDiff(full.AsSpan(position * v, v), cachedRows[step]));
        }

        var distinct = tokens.Skip(4).Distinct().Count();
        output.WriteLine($"worst |cached - full| over 200 steps = {worst:E2}; {distinct} distinct generated tokens");

        // A continuation stuck on one token would exercise little of the cache.
        Assert.True(distinct >= 5, $"only {distinct} distinct tokens");
        Assert.Equal(204, sequence.Length);
        Assert.True(worst < Tolerance, $"max difference {worst}");
    }

    [Fact]
    public void Append_GammaPlusOneTokensInOneCall_EqualsSingleSteps()
    {
        using var model = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m")));
        var v = model.VocabularySize;
        int[] prefix = [.. RandomTokens(20, seed: 3)];
        int[] block = [.. RandomTokens(5, seed: 4)];

        using var batched = model.CreateSequence();
        batched.Append(prefix, []);
        var together = new float[block.Length * v];
        batched.Append(block, together);

        using var stepwise = model.CreateSequence();
        stepwise.Append(prefix, []);
        var single = new float[block.Length * v];
        for (var i = 0; i < block.Length; i++)
        {
            stepwise.Append(block.AsSpan(i, 1), single.AsSpan(i * v, v));
        }

        Assert.True(Assertions.MaxAbsDiff(single, together) < Tolerance);
        Assert.Equal(stepwise.Length, batched.Length);
    }

    [Fact]
    public void Append_FewerRowsThanTokens_ReturnsLastRows()
    {
        var reference = TinyTransformer.Create();
        using var model = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m")));
        var v = model.VocabularySize;
        int[] tokens = [.. RandomTokens(12, seed: 5)];
        var lastTwo = new float[2 * v];

        using var sequence = model.CreateSequence();
        sequence.Append(tokens, lastTwo);

        var full = reference.Forward(tokens);
        Assert.True(Assertions.MaxAbsDiff(full.AsSpan(10 * v), lastTwo) < Tolerance);
    }

    [Fact]
    public void Truncate_ThenAppend_EqualsFreshRun()
    {
        using var model = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m")));
        var v = model.VocabularySize;
        int[] accepted = [.. RandomTokens(30, seed: 11)];
        int[] rejectedDraft = [.. RandomTokens(4, seed: 12)];
        int[] correction = [.. RandomTokens(3, seed: 13)];

        using var rewound = model.CreateSequence();
        rewound.Append(accepted, []);
        rewound.Append(rejectedDraft, new float[4 * v]);
        rewound.Truncate(accepted.Length + 1);
        var afterRewind = new float[3 * v];
        rewound.Append(correction, afterRewind);

        using var fresh = model.CreateSequence();
        var expected = new float[3 * v];
        fresh.Append([.. accepted, rejectedDraft[0], .. correction], expected);

        Assert.Equal(fresh.Length, rewound.Length);
        Assert.True(Assertions.MaxAbsDiff(expected, afterRewind) < Tolerance);
    }

    [Fact]
    public void SpeculativeAppendsAndRewinds_150Steps_EveryRowMatchesTheReferenceForwardPass()
    {
        // Draft-verify-rewind like the engine: append 1..5 tokens, read every row, drop 0..k-1 of them. Rewinds leave
        // masked holes in the cache and compaction runs whenever they pass a quarter of it; neither may change a logit.
        var reference = TinyTransformer.Create();
        using var model = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m")));
        var v = model.VocabularySize;
        var random = new Random(17);
        var committed = new List<int>();
        using var sequence = model.CreateSequence();
        var worst = 0.0;
        for (var step = 0; step < 150; step++)
        {
            var k = random.Next(1, 6);
            int[] block = [.. Enumerable.Range(0, k).Select(_ => random.Next(0, 256))];
            var logits = new float[k * v];
            sequence.Append(block, logits);
            committed.AddRange(block);

            var expected = reference.Forward(committed.ToArray()).AsSpan((committed.Count - k) * v);
            worst = Math.Max(worst, Assertions.MaxAbsDiff(expected.ToArray(), logits));

            var dropped = random.Next(0, k);
            sequence.Truncate(committed.Count - dropped);
            committed.RemoveRange(committed.Count - dropped, dropped);
            Assert.Equal(committed.Count, sequence.Length);
        }

        output.WriteLine($"{committed.Count} tokens kept, worst |Δ| {worst:E2}");
        Assert.True(worst < Tolerance, $"worst |Δ| {worst:E2}");
    }

    [Fact]
    public void Truncate_ToZero_RestartsSequence()
    {
        var reference = TinyTransformer.Create();
        using var model = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m")));
        int[] tokens = [.. RandomTokens(6, seed: 21)];
        using var sequence = model.CreateSequence();
        sequence.Append(RandomTokens(9, seed: 22).ToArray(), []);

        sequence.Truncate(0);
        var logits = new float[tokens.Length * model.VocabularySize];
        sequence.Append(tokens, logits);

        Assert.True(Assertions.MaxAbsDiff(reference.Forward(tokens), logits) < Tolerance);
    }

    [Fact]
    public void Append_Float16CacheAndLogits_MatchesFloat32WithinHalfPrecision()
    {
        var config = new TinyTransformerConfig { Float16 = true };
        var reference = TinyTransformer.Create(config);
        using var model = Assert.IsType<DecoderWithPastOnnxModel>(OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"), config)));
        var v = model.VocabularySize;
        int[] tokens = [.. RandomTokens(24, seed: 9)];

        using var cached = model.CreateSequence();
        var stepwise = new float[tokens.Length * v];
        for (var i = 0; i < tokens.Length; i++)
        {
            cached.Append(tokens.AsSpan(i, 1), stepwise.AsSpan(i * v, v));
        }

        using var whole = model.CreateSequence();
        var together = new float[tokens.Length * v];
        whole.Append(tokens, together);

        Assert.Equal(TensorElementType.Float16, model.CacheElementType);
        var cacheDiff = Assertions.MaxAbsDiff(together, stepwise);
        var referenceDiff = Assertions.MaxAbsDiff(reference.Forward(tokens), together);
        output.WriteLine($"float16: |stepwise - whole| = {cacheDiff:E2}, |whole - float64 reference| = {referenceDiff:E2}");

        // Both paths round the same keys/values to float16, so they agree to float32 noise plus one float16 logit rounding.
        Assert.True(cacheDiff < 1e-2, $"cached vs whole {cacheDiff}");
        Assert.True(referenceDiff < 5e-2, $"vs reference {referenceDiff}");
    }

    [Fact]
    public void Append_BeyondContextLength_Throws()
    {
        using var model = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"), new TinyTransformerConfig { MaxPositions = 8 }));
        using var sequence = model.CreateSequence();
        sequence.Append(RandomTokens(8, seed: 1).ToArray(), []);

        var error = Assert.Throws<InvalidOperationException>(() => sequence.Append([1], []));
        Assert.Contains("context length 8", error.Message);
    }

    [Fact]
    public void Append_MoreRowsThanTokens_Throws()
    {
        using var model = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m")));
        using var sequence = model.CreateSequence();

        Assert.Throws<ArgumentException>(() => sequence.Append([1], new float[2 * model.VocabularySize]));
        Assert.Equal(0, sequence.Length);
    }

    internal static IEnumerable<int> RandomTokens(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(0, 256));
    }
}
