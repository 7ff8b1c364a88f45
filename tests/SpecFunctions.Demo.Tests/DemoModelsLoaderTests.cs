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
}
