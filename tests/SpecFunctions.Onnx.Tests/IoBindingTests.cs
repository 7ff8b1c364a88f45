using Microsoft.ML.OnnxRuntime.Tensors;
using SpecFunctions.Core.Models;
using SpecFunctions.OnnxGraphs;
using Xunit.Abstractions;

namespace SpecFunctions.Onnx.Tests;

/// <summary>
/// The IO-binding path of <see cref="DecoderWithPastOnnxModel"/> (cache kept in the session's device memory, compaction on
/// the device) against the plain <c>Run</c> path, on the CPU provider: the same code runs on CUDA, where only the memory
/// the binding points at differs.
/// </summary>
public sealed class IoBindingTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    // Both paths run the same graph on the same inputs and cache rows (measured: bit-identical on the CPU); the stated
    // tolerances allow kernel rounding noise, and for float16 one half-precision step at |logit| < 8 (the graph narrows
    // logits to float16).
    [Theory]
    [InlineData(false, 1e-5, true)]
    [InlineData(true, 4e-3, true)]
    [InlineData(false, 1e-5, false)]
    [InlineData(true, 4e-3, false)]
    public void RandomAppendsAndRewinds_400Steps_BoundPathGivesTheRunPathsLogits(bool float16, double tolerance, bool compactOnDevice)
    {
        // compactOnDevice: the GPU's code path (IO binding, the Gather session that compacts the cache) on the CPU provider;
        // else the host path the CPU provider uses by default (outputs allocated beforehand, compaction by a host copy).
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"), new TinyTransformerConfig { Float16 = float16, Layers = 3 });
        using var bound = Assert.IsType<DecoderWithPastOnnxModel>(OnnxLanguageModel.Load(folder, new OnnxModelOptions { DeviceCodePathOnHost = compactOnDevice }));
        using var plain = Assert.IsType<DecoderWithPastOnnxModel>(OnnxLanguageModel.Load(folder, new OnnxModelOptions { IoBinding = false }));
        Assert.True(bound.IoBinding);
        Assert.False(plain.IoBinding);
        Assert.Equal(float16 ? TensorElementType.Float16 : TensorElementType.Float, bound.CacheElementType);

        var (boundLogits, boundLength) = RandomScript(bound, steps: 400, seed: 5);
        var (plainLogits, plainLength) = RandomScript(plain, steps: 400, seed: 5);

        Assert.Equal(plainLength, boundLength);
        Assert.Equal(plainLogits.Count, boundLogits.Count);
        var worst = 0.0;
        for (var i = 0; i < plainLogits.Count; i++)
        {
            worst = Math.Max(worst, Assertions.MaxAbsDiff(plainLogits[i], boundLogits[i]));
        }

        output.WriteLine($"float16={float16}: {plainLogits.Count} calls, {boundLength} tokens kept, {bound.DeviceCompactions} device and {bound.HostCompactions} host compactions, worst |Δ| {worst:E2}");
        using (var probe = bound.CreateSequence())
        {
            probe.Append([1, 2], []);
            Assert.Equal("Cpu", DecoderWithPastOnnxModel.CacheLocation(probe));
        }

        var (used, unused) = compactOnDevice ? (bound.DeviceCompactions, bound.HostCompactions) : (bound.HostCompactions, bound.DeviceCompactions);
        Assert.True(used >= 5, $"only {used} compactions: the script should exercise them");
        Assert.Equal(0, unused);
        Assert.True(worst <= tolerance, $"worst |Δ| {worst:E2} > {tolerance:E0}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GraphWithoutPositionIds_WithUseCacheBranch_BothPathsMatchTheReferenceAndCompactOnEveryRewind(bool compactOnDevice)
    {
        // Positions come from the cache length, so every rewind must cut the cache: on the bound path that is a device
        // compaction before the next call.
        var config = new TinyTransformerConfig { PositionIdsInput = false, UseCacheBranchInput = true };
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"), config);
        using var bound = Assert.IsType<DecoderWithPastOnnxModel>(OnnxLanguageModel.Load(folder, new OnnxModelOptions { DeviceCodePathOnHost = compactOnDevice }));
        using var plain = OnnxLanguageModel.Load(folder, new OnnxModelOptions { IoBinding = false });
        var reference = TinyTransformer.Create(config);
        var v = bound.VocabularySize;
        var random = new Random(31);
        var committed = new List<int>();
        using var boundSequence = bound.CreateSequence();
        using var plainSequence = plain.CreateSequence();
        double worst = 0, worstPaths = 0;
        var rewinds = 0;
        for (var step = 0; step < 40; step++)
        {
            var k = random.Next(1, 6);
            int[] block = [.. Enumerable.Range(0, k).Select(_ => random.Next(0, 256))];
            var boundLogits = new float[k * v];
            var plainLogits = new float[k * v];
            boundSequence.Append(block, boundLogits);
            plainSequence.Append(block, plainLogits);
            committed.AddRange(block);
            worst = Math.Max(worst, Assertions.MaxAbsDiff(reference.Forward(committed.ToArray()).AsSpan((committed.Count - k) * v).ToArray(), boundLogits));
            worstPaths = Math.Max(worstPaths, Assertions.MaxAbsDiff(plainLogits, boundLogits));

            var dropped = random.Next(0, k);
            rewinds += dropped > 0 ? 1 : 0;
            boundSequence.Truncate(committed.Count - dropped);
            plainSequence.Truncate(committed.Count - dropped);
            committed.RemoveRange(committed.Count - dropped, dropped);
        }

        output.WriteLine($"{rewinds} rewinds, {bound.DeviceCompactions} device and {bound.HostCompactions} host compactions; worst |Δ| vs reference {worst:E2}, bound vs plain {worstPaths:E2}");
        Assert.DoesNotContain("position_ids", bound.Session.InputMetadata.Keys);
        Assert.Contains("use_cache_branch", bound.Session.InputMetadata.Keys);
        Assert.InRange(compactOnDevice ? bound.DeviceCompactions : bound.HostCompactions, rewinds - 1, rewinds);
        Assert.Equal(0, compactOnDevice ? bound.HostCompactions : bound.DeviceCompactions);
        Assert.True(worst < 1e-4, $"worst |Δ| vs reference {worst:E2}");
        Assert.True(worstPaths <= 1e-5, $"bound vs plain {worstPaths:E2}");
    }

    [Fact]
    public void BoundPath_TwoSequencesOfOneModel_KeepSeparateCaches()
    {
        using var model = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m")));
        var v = model.VocabularySize;
        int[] a = [.. DecoderWithPastOnnxModelTests.RandomTokens(12, seed: 1)];
        int[] b = [.. DecoderWithPastOnnxModelTests.RandomTokens(12, seed: 2)];
        using var first = model.CreateSequence();
        using var second = model.CreateSequence();
        var interleavedA = new float[v];
        var interleavedB = new float[v];
        for (var i = 0; i < a.Length; i++)
        {
            first.Append(a.AsSpan(i, 1), interleavedA);
            second.Append(b.AsSpan(i, 1), interleavedB);
        }

        var aloneA = new float[v];
        using var alone = model.CreateSequence();
        alone.Append(a, aloneA);
        var expectedB = TinyTransformer.Create().Forward(b).AsSpan(11 * v).ToArray();

        Assert.True(Assertions.MaxAbsDiff(aloneA, interleavedA) < 1e-5);
        Assert.True(Assertions.MaxAbsDiff(expectedB, interleavedB) < 1e-4);
    }

    /// <summary>
    /// Draft-verify-rewind like the engine: append 1..6 tokens (sometimes a prefill that reads no rows), read some rows,
    /// drop 0..k of the block. Returns every call's logits and the final length.
    /// </summary>
    internal static (List<float[]> Logits, int Length) RandomScript(OnnxLanguageModel model, int steps, int seed)
    {
        var v = model.VocabularySize;
        var random = new Random(seed);
        var calls = new List<float[]>();
        using var sequence = model.CreateSequence();
        for (var step = 0; step < steps; step++)
        {
            if (sequence.Length > model.ContextLength - 16)
            {
                sequence.Truncate(random.Next(0, 32));
            }

            var k = random.Next(1, 7);
            int[] block = [.. Enumerable.Range(0, k).Select(_ => random.Next(0, 256))];
            var rows = step % 7 == 0 ? 0 : random.Next(1, k + 1);
            var logits = new float[rows * v];
            sequence.Append(block, logits);
            calls.Add(logits);
            sequence.Truncate(sequence.Length - random.Next(0, k + 1));
        }

        return (calls, sequence.Length);
    }
}

/// <summary>The graph builder's options for large timing models: half precision throughout, weights as external data.</summary>
public sealed class LargeModelBuilderTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void HalfPrecisionGraph_OnTheCpu_MatchesTheReferenceToHalfPrecisionAndBothPathsAgree()
    {
        var config = new TinyTransformerConfig { HalfPrecision = true };
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"), config);
        using var bound = Assert.IsType<DecoderWithPastOnnxModel>(OnnxLanguageModel.Load(folder));
        using var plain = OnnxLanguageModel.Load(folder, new OnnxModelOptions { IoBinding = false });
        Assert.Equal(TensorElementType.Float16, bound.CacheElementType);

        int[] tokens = [.. DecoderWithPastOnnxModelTests.RandomTokens(20, seed: 4)];
        var v = bound.VocabularySize;
        var stepwise = new float[tokens.Length * v];
        using (var sequence = bound.CreateSequence())
        {
            for (var i = 0; i < tokens.Length; i++)
            {
                sequence.Append(tokens.AsSpan(i, 1), stepwise.AsSpan(i * v, v));
            }
        }

        var whole = new float[tokens.Length * v];
        using (var sequence = plain.CreateSequence())
        {
            sequence.Append(tokens, whole);
        }

        var reference = TinyTransformer.Create(config).Forward(tokens);
        var vsReference = Assertions.MaxAbsDiff(reference, stepwise);
        var vsPlain = Assertions.MaxAbsDiff(whole, stepwise);
        var largest = reference.Max(Math.Abs);
        output.WriteLine($"half precision: |bound stepwise - float64 reference| {vsReference:E2} (largest |logit| {largest:F1}), |bound stepwise - plain whole| {vsPlain:E2}");

        // Every weight and activation is rounded to float16 (~1e-3 relative) through 2 layers; logits reach |8| (measured 2.8e-3).
        Assert.True(vsReference < 0.02, $"vs reference {vsReference}");
        Assert.True(vsPlain < 0.01, $"vs plain {vsPlain}");
    }

    [Fact]
    public void ExternalData_SameLogitsAsInlineWeights()
    {
        var model = TinyTransformer.Create();
        var inline = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("inline"));
        var proto = TinyTransformerBuilder.Build(model);
        var externalFolder = _temp.Sub("external");
        Directory.CreateDirectory(externalFolder);
        var moved = OnnxGraphWriter.MoveToExternalData(proto, externalFolder, "model.onnx.data");
        var manifest = OnnxLanguageModel.ReadManifest(inline);
        TinyTransformerBuilder.WriteModelFolder(externalFolder, proto, manifest);

        using var a = OnnxLanguageModel.Load(inline);
        using var b = OnnxLanguageModel.Load(externalFolder);
        int[] tokens = [.. DecoderWithPastOnnxModelTests.RandomTokens(10, seed: 3)];
        var la = new float[tokens.Length * a.VocabularySize];
        var lb = new float[tokens.Length * b.VocabularySize];
        using (var s = a.CreateSequence())
        {
            s.Append(tokens, la);
        }

        using (var s = b.CreateSequence())
        {
            s.Append(tokens, lb);
        }

        Assert.True(moved > 100_000, $"{moved} bytes moved");
        Assert.True(new FileInfo(Path.Combine(externalFolder, "model.onnx")).Length < 20_000);
        Assert.Equal(0, Assertions.MaxAbsDiff(la, lb));
        Assert.NotEqual(a.Identity, b.Identity);
    }

    [Fact]
    public void Parameters_CountsEveryWeight()
    {
        var config = new TinyTransformerConfig();
        var model = TinyTransformer.Create(config);
        var counted = model.TokenEmbedding.Length + model.PositionEmbedding.Length + model.FinalNormScale.Length + model.FinalNormBias.Length + model.LmHead.Length
            + model.Layers.Sum(l => l.Norm1Scale.Length + l.Norm1Bias.Length + l.Query.Length + l.Key.Length + l.Value.Length + l.Output.Length
                + l.Norm2Scale.Length + l.Norm2Bias.Length + l.Up.Length + l.UpBias.Length + l.Down.Length + l.DownBias.Length);
        Assert.Equal(counted, config.Parameters);
        Assert.InRange(new TinyTransformerConfig { VocabularySize = 32000, ModelDim = 2048, Heads = 16, Layers = 16, HiddenDim = 8192, MaxPositions = 2048 }.Parameters, 0.9e9, 1.0e9);
    }
}
