using Microsoft.ML.OnnxRuntime.Tensors;
using SpecFunctions.OnnxGraphs;
using Xunit.Abstractions;

namespace SpecFunctions.Onnx.Tests;

// ONNX Runtime's GPT-2 cache layout (past_{i} / present_{i} [2, batch, heads, past, headDim]) on the tiny transformer's
// graph, read from a genai_config.json of type gpt2 (no specfn-model.json), on every code path of the decoder.
public sealed class CombinedCacheTests(ITestOutputHelper output) : IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("host", true)]
    [InlineData("host", false)]
    [InlineData("plain-run", true)]
    [InlineData("device-code-path", true)]
    [InlineData("device-code-path", false)]
    public void SpeculativeAppendsAndRewinds_CombinedLayout_EveryRowMatchesTheReferenceForwardPass(string path, bool positionIds)
    {
        var config = new TinyTransformerConfig { CombinedCache = true, PositionIdsInput = positionIds };
        var reference = TinyTransformer.Create(config);
        var folder = DerivedFolder(config);
        var options = path switch
        {
            "plain-run" => new OnnxModelOptions { IoBinding = false },
            "device-code-path" => new OnnxModelOptions { DeviceCodePathOnHost = true },
            _ => new OnnxModelOptions(),
        };
        using var model = Assert.IsType<DecoderWithPastOnnxModel>(OnnxLanguageModel.Load(folder, options));
        Assert.True(model.Combined);
        Assert.Equal(config.Layers, model.LayerCount);
        Assert.Equal(["past_0", "past_1"], model.PastNames);
        Assert.Equal([2L, 1L, config.Heads, -1L, config.HeadDim], model.CacheTensorShape);
        Assert.Equal("gpt2", model.Manifest.Family);

        var v = model.VocabularySize;
        var random = new Random(23);
        var committed = new List<int>();
        using var sequence = model.CreateSequence();
        var worst = 0.0;
        for (var step = 0; step < 120; step++)
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
        }

        output.WriteLine($"{path}, position ids {positionIds}: {committed.Count} tokens kept, worst |Δ| {worst:E2}, compactions {model.HostCompactions} host / {model.DeviceCompactions} device");
        Assert.True(worst < Tolerance, $"worst |Δ| {worst:E2}");
        Assert.True(model.HostCompactions + model.DeviceCompactions > 0 || path == "plain-run", "rewinds must have compacted the combined cache at least once");
    }

    [Fact]
    public void Append_CombinedFloat16Cache_MatchesFloat32WithinHalfPrecision()
    {
        var reference = TinyTransformer.Create(new TinyTransformerConfig { CombinedCache = true });
        using var model = Assert.IsType<DecoderWithPastOnnxModel>(OnnxLanguageModel.Load(DerivedFolder(new TinyTransformerConfig { CombinedCache = true, Float16 = true })));
        Assert.Equal(TensorElementType.Float16, model.CacheElementType);
        Assert.Equal(TensorElementType.Float16, model.LogitsElementType);
        int[] tokens = [72, 101, 108, 108, 111, 32, 119];
        using var sequence = model.CreateSequence();
        var logits = new float[model.VocabularySize];
        foreach (var token in tokens[..^1])
        {
            sequence.Append([token], []);
        }

        sequence.Append([tokens[^1]], logits);

        var expected = reference.Forward(tokens).AsSpan((tokens.Length - 1) * model.VocabularySize).ToArray();
        Assert.True(Assertions.MaxAbsDiff(expected, logits) < 2e-2, $"|Δ| {Assertions.MaxAbsDiff(expected, logits):E2}");
    }

    // An exporter's folder (no manifest): the model is described from its genai_config.json (type gpt2, past_%d / present_%d).
    private string DerivedFolder(TinyTransformerConfig config) =>
        TinyTransformerBuilder.WriteExportFolder(_temp.Sub(Guid.NewGuid().ToString("N")), config);

    [Fact]
    public void ExportFolder_ByteLevelTokenizer_EncodesTheBytesAndDecodesThem()
    {
        using var model = OnnxLanguageModel.Load(DerivedFolder(new TinyTransformerConfig { CombinedCache = true }));
        const string text = "Hi, Привет 日本";

        var ids = model.Tokenizer.Encode(text);

        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(text).Select(b => (int)b), ids);
        Assert.Equal(text, model.Tokenizer.Decode([.. ids, 257]));
        Assert.Equal([257], model.Manifest.EosTokenIds);
        Assert.Null(model.Manifest.BosTokenId);
    }
}

// A graph that takes several new tokens only without a past (the model builder's MultiHeadAttention exports): the
// decoder falls back to one token per call after the first failure, and every row still matches the reference.
public sealed class OneTokenAfterPastTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Append_SeveralTokensAfterAPast_FallsBackToOneTokenPerCall(bool ioBinding)
    {
        var config = new TinyTransformerConfig { SquareCausalMask = true };
        var reference = TinyTransformer.Create(config);
        using var model = Assert.IsType<DecoderWithPastOnnxModel>(OnnxLanguageModel.Load(
            TinyTransformerBuilder.WriteExportFolder(_temp.Sub("square"), config), new OnnxModelOptions { IoBinding = ioBinding }));
        var v = model.VocabularySize;
        using var sequence = model.CreateSequence();
        int[] prompt = [72, 101, 108, 108, 111];
        sequence.Append(prompt, []); // several tokens, no past: one call
        Assert.False(model.OneTokenPerCallAfterPast);

        int[] draft = [32, 119, 111];
        var logits = new float[2 * v];
        sequence.Append(draft, logits); // several tokens after a past: the graph refuses, one per call instead
        sequence.Truncate(7);
        var last = new float[v];
        sequence.Append([33], last);

        Assert.True(model.OneTokenPerCallAfterPast);
        var all = reference.Forward([.. prompt, .. draft]);
        Assert.True(Assertions.MaxAbsDiff(all.AsSpan(6 * v, 2 * v), logits) < 1e-4);
        Assert.True(Assertions.MaxAbsDiff(reference.Forward([.. prompt, 32, 119, 33]).AsSpan(7 * v, v), last) < 1e-4);
        Assert.Equal(8, sequence.Length);
    }
}
