using Microsoft.ML.OnnxRuntime;
using SpecFunctions.Onnx.Testing;

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

    private static float[] RunWholeSequence(string modelPath, int[] tokens)
    {
        using var session = new InferenceSession(modelPath);
        using var input = OrtValue.CreateTensorValueFromMemory(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        using var outputs = session.Run(new RunOptions(), ["input_ids"], [input], ["logits"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
