using System.Text;
using SpecFunctions.Demo;
using SpecFunctions.Onnx;

namespace SpecFunctions.Demo.Tests;

/// <summary>The demo folders run in the project's loader (<see cref="StatelessOnnxModel"/>) as the evaluation job uses them.</summary>
[Collection(DemoModelsCollection.Name)]
public sealed class DemoModelsLoaderTests(DemoModelsFixture fixture)
{
    [Theory]
    [InlineData("verifier", 1)]
    [InlineData("verifier", 5)]
    [InlineData("drafter", 1)]
    [InlineData("drafter", 3)]
    public void Load_DemoFolder_AppendRowsMatchReferenceForward(string model, int rows)
    {
        var folder = model == "verifier" ? fixture.Paths.VerifierDirectory : fixture.Paths.DrafterDirectory;
        var weights = model == "verifier" ? fixture.Verifier : fixture.Drafter;
        var text = Encoding.UTF8.GetBytes("Пекарня на углу открывается в семь. The bakery opens at seven.");
        using var loaded = OnnxLanguageModel.Load(folder);
        using var sequence = loaded.CreateSequence();
        var logits = new float[rows * 256];

        sequence.Append(text[..^rows].Select(b => (int)b).ToArray(), Span<float>.Empty);
        sequence.Append(text[^rows..].Select(b => (int)b).ToArray(), logits);

        var stateless = Assert.IsType<StatelessOnnxModel>(loaded);
        Assert.True(stateless.FeedsLogitsToKeep);
        Assert.Equal(weights.Config.Window, stateless.Window);
        var reference = new DemoModel(weights).ForwardAll(text).AsSpan((text.Length - rows) * 256).ToArray();
        var worst = reference.Zip(logits, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-4f, $"Largest logit difference {worst}");
    }

    [Theory]
    [InlineData("verifier")]
    [InlineData("drafter")]
    public void Append_SpeculativeCallPattern_EveryRowMatchesReferenceForward(string model)
    {
        // The decoder's pattern on one sequence: a prompt, single-row drafter-style calls, γ+1-row verifier-style calls,
        // rewinds, and one call with more rows than any before it (the sequence's reused buffers must grow).
        var folder = model == "verifier" ? fixture.Paths.VerifierDirectory : fixture.Paths.DrafterDirectory;
        var weights = model == "verifier" ? fixture.Verifier : fixture.Drafter;
        var text = Encoding.UTF8.GetBytes("Каждое утро Анна просыпается в шесть. Every morning Anna wakes up at six and opens the window.");
        using var loaded = OnnxLanguageModel.Load(folder);
        using var sequence = loaded.CreateSequence();
        var reference = new DemoModel(weights).ForwardAll(text);
        var position = 0;
        var worst = 0f;
        void Step(int count, int rows)
        {
            var logits = new float[rows * 256];
            sequence.Append(text.AsSpan(position, count).ToArray().Select(b => (int)b).ToArray(), logits);
            position += count;
            var expected = reference.AsSpan((position - rows) * 256, rows * 256).ToArray();
            worst = Math.Max(worst, expected.Zip(logits, (a, b) => Math.Abs(a - b)).DefaultIfEmpty(0f).Max());
        }

        Step(12, 0);
        Step(1, 1);
        Step(1, 1);
        Step(5, 5);
        sequence.Truncate(position -= 3);
        Step(4, 4);
        Step(40, 40);
        sequence.Truncate(position -= 30);
        Step(1, 1);
        Step(5, 2);

        Assert.Equal(position, sequence.Length);
        Assert.True(worst <= 1e-4f, $"Largest logit difference {worst}");
    }
}
