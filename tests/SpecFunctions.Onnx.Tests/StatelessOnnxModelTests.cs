using Microsoft.ML.OnnxRuntime;
using SpecFunctions.Core.Models;
using SpecFunctions.OnnxGraphs;
using SpecFunctions.TestKit;

namespace SpecFunctions.Onnx.Tests;

public sealed class StatelessOnnxModelTests : IDisposable
{
    private const int Window = 6;
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Append_Incrementally_EqualsFullSequenceRecompute()
    {
        var folder = TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("w"), Window);
        using var model = Assert.IsType<StatelessOnnxModel>(OnnxLanguageModel.Load(folder));
        var v = model.VocabularySize;
        int[] tokens = [.. DecoderWithPastOnnxModelTests.RandomTokens(40, seed: 2)];

        // Prompt of 10 without logits, then blocks of 1..4 tokens with all their rows, as a verifier would ask.
        using var sequence = model.CreateSequence();
        var appended = new float[tokens.Length * v];
        sequence.Append(tokens.AsSpan(0, 10), []);
        var position = 10;
        var block = 1;
        while (position < tokens.Length)
        {
            var count = Math.Min(block, tokens.Length - position);
            sequence.Append(tokens.AsSpan(position, count), appended.AsSpan(position * v, count * v));
            position += count;
            block = (block % 4) + 1;
        }

        var full = RunWholeSequence(Path.Combine(folder, "model.onnx"), tokens);
        Assert.Equal(tokens.Length, sequence.Length);
        Assert.True(Assertions.MaxAbsDiff(full.AsSpan(10 * v), appended.AsSpan(10 * v)) < 1e-4);
    }

    [Fact]
    public void Append_PositionBeyondWindow_DependsOnlyOnLastWindowTokens()
    {
        using var model = OnnxLanguageModel.Load(TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("w"), Window));
        var v = model.VocabularySize;
        int[] tail = [10, 20, 30, 40, 50, 60];
        var a = new float[v];
        var b = new float[v];
        using var first = model.CreateSequence();
        using var second = model.CreateSequence();

        first.Append([1, 2, 3, .. tail], a);
        second.Append([200, 100, .. tail], b);

        Assert.Equal(0, Assertions.MaxAbsDiff(a, b));
    }

    [Fact]
    public void Truncate_ThenAppend_EqualsFreshSequence()
    {
        using var model = OnnxLanguageModel.Load(TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("w"), Window));
        var v = model.VocabularySize;
        using var rewound = model.CreateSequence();
        rewound.Append([5, 6, 7, 8, 9, 10, 11], new float[3 * v]);
        rewound.Truncate(4);
        var actual = new float[2 * v];
        rewound.Append([100, 101], actual);

        using var fresh = model.CreateSequence();
        var expected = new float[2 * v];
        fresh.Append([5, 6, 7, 8, 100, 101], expected);

        Assert.Equal(6, rewound.Length);
        Assert.True(Assertions.MaxAbsDiff(expected, actual) < 1e-6);
    }

    [Fact]
    public void Append_GraphIgnoringLogitsToKeep_StillReturnsTheLastRows()
    {
        // A graph that declares logits_to_keep but returns every row cannot write into a [1, rows, V] buffer; the sequence must
        // fall back to copying the last rows of whatever the graph returns, on this call and the ones after it.
        var proto = TinyWindowModelBuilder.Build(260, Window, seed: 3);
        proto.Graph.Input.Add(new global::Onnx.ValueInfoProto
        {
            Name = "logits_to_keep",
            Type = new global::Onnx.TypeProto { TensorType = new global::Onnx.TypeProto.Types.Tensor { ElemType = OnnxGraphWriter.Int64Type, Shape = new global::Onnx.TensorShapeProto() } },
        });
        proto.Graph.Initializer.Add(new global::Onnx.TensorProto { Name = "logits_to_keep", DataType = OnnxGraphWriter.Int64Type, Int64Data = { 0L } });
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("k"), proto, TinyManifest());
        using var model = Assert.IsType<StatelessOnnxModel>(OnnxLanguageModel.Load(folder));
        Assert.True(model.FeedsLogitsToKeep);
        var v = model.VocabularySize;
        int[] tokens = [.. DecoderWithPastOnnxModelTests.RandomTokens(20, seed: 4)];

        using var sequence = model.CreateSequence();
        var appended = new float[tokens.Length * v];
        sequence.Append(tokens.AsSpan(0, 10), appended.AsSpan(7 * v, 3 * v));
        sequence.Append(tokens.AsSpan(10, 4), appended.AsSpan(10 * v, 4 * v));
        sequence.Append(tokens.AsSpan(14, 6), appended.AsSpan(19 * v, v));

        var full = RunWholeSequence(Path.Combine(folder, "model.onnx"), tokens);
        Assert.True(Assertions.MaxAbsDiff(full.AsSpan(7 * v, 7 * v), appended.AsSpan(7 * v, 7 * v)) < 1e-4);
        Assert.True(Assertions.MaxAbsDiff(full.AsSpan(19 * v), appended.AsSpan(19 * v)) < 1e-4);
    }

    [Fact]
    public void Append_RowCountsGrowingAndShrinking_EqualsFullSequenceRecompute()
    {
        // Calls reuse per-sequence buffers: one row, then more rows than any earlier call (the buffers grow), then few again,
        // with a second sequence interleaved on the same model.
        var folder = TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("w"), Window);
        using var model = OnnxLanguageModel.Load(folder);
        var v = model.VocabularySize;
        int[] tokens = [.. DecoderWithPastOnnxModelTests.RandomTokens(60, seed: 5)];
        using var sequence = model.CreateSequence();
        using var other = model.CreateSequence();
        var appended = new float[tokens.Length * v];
        int[] blocks = [1, 1, 2, 30, 1, 3, 5, 2, 15];
        var otherTokens = new int[blocks.Length];
        var otherAppended = new float[blocks.Length * v];
        var position = 0;
        for (var i = 0; i < blocks.Length; i++)
        {
            sequence.Append(tokens.AsSpan(position, blocks[i]), appended.AsSpan(position * v, blocks[i] * v));
            otherTokens[i] = tokens[position];
            other.Append([otherTokens[i]], otherAppended.AsSpan(i * v, v));
            position += blocks[i];
        }

        var full = RunWholeSequence(Path.Combine(folder, "model.onnx"), tokens);
        Assert.True(Assertions.MaxAbsDiff(full, appended) < 1e-4);
        var otherFull = RunWholeSequence(Path.Combine(folder, "model.onnx"), otherTokens);
        Assert.True(Assertions.MaxAbsDiff(otherFull, otherAppended) < 1e-4);
    }

    private static ModelManifest TinyManifest() => new()
    {
        Name = "tiny-window-keep",
        Family = "specfn-tiny",
        VocabularySize = 260,
        Tokenizer = "byte",
        BosTokenId = 256,
        EosTokenIds = [257],
        ContextLength = 4096,
        Format = OnnxLanguageModel.StatelessFormat,
        Window = Window,
    };

    private static float[] RunWholeSequence(string modelPath, int[] tokens)
    {
        using var session = new InferenceSession(modelPath);
        using var input = OrtValue.CreateTensorValueFromMemory(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        using var outputs = session.Run(new RunOptions(), ["input_ids"], [input], ["logits"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
