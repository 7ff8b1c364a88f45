using System.Text;
using System.Text.Json;
using SpecFunctions.Core.Models;
using SpecFunctions.Demo;

namespace SpecFunctions.Demo.Tests;

[Collection(DemoModelsCollection.Name)]
public sealed class DemoOnnxExporterTests(DemoModelsFixture fixture)
{
    private const float Tolerance = 1e-4f;

    public static TheoryData<string, string> Contexts => new()
    {
        { "verifier", "a" },
        { "verifier", "Hi" },
        { "verifier", "The cat sat." },
        { "verifier", "Every morning Anna wakes up at six and opens the window to listen to the birds." },
        { "verifier", "Каждое утро Анна просыпается в шесть часов." },
        { "verifier", "星期天早上，爸爸给全家人做鸡蛋和烤面包。" },
        { "drafter", "a" },
        { "drafter", "Hola" },
        { "drafter", "Every morning Anna wakes up at six and opens the window to listen to the birds." },
        { "drafter", "Der Zug fährt um acht." },
    };

    [Theory]
    [MemberData(nameof(Contexts))]
    public void Export_RealModel_OnnxRuntimeMatchesReferenceForward(string model, string text)
    {
        var (weights, folder) = Pick(model);
        var bytes = Encoding.UTF8.GetBytes(text);
        using var runner = new OnnxRuntimeRunner(Path.Combine(folder, "model.onnx"));

        var onnx = runner.Run(bytes);
        var reference = new DemoModel(weights).ForwardAll(bytes);

        AssertClose(reference, onnx);
    }

    [Theory]
    [InlineData("verifier", 1)]
    [InlineData("verifier", 5)]
    [InlineData("drafter", 1)]
    [InlineData("drafter", 4)]
    public void Export_LastWindowMinusOnePlusRowsTokens_RowsMatchFullContext(string model, int rows)
    {
        // The loader feeds only the last window-1+rows tokens; its last rows must equal the full-context logits.
        var (weights, folder) = Pick(model);
        var bytes = Encoding.UTF8.GetBytes("Once upon a time, a small fox lived at the edge of a quiet forest.");
        var window = weights.Config.Window;
        var slice = bytes[^(window - 1 + rows)..];
        using var runner = new OnnxRuntimeRunner(Path.Combine(folder, "model.onnx"));

        var onnx = runner.Run(slice);
        var full = new DemoModel(weights).ForwardAll(bytes);

        AssertClose(full.AsSpan((bytes.Length - rows) * 256).ToArray(), onnx.AsSpan((slice.Length - rows) * 256).ToArray());
    }

    [Theory]
    [InlineData("verifier", 1, 0)]
    [InlineData("verifier", 5, 5)]
    [InlineData("verifier", 5, 100)]
    [InlineData("drafter", 1, 1)]
    [InlineData("drafter", 4, 2)]
    public void Export_LogitsToKeep_ReturnsOnlyTheLastRows(string model, int keep, int extraContext)
    {
        // logits_to_keep = k makes the graph compute only the last k rows (0 = all); a k above L gives all L.
        var (weights, folder) = Pick(model);
        var bytes = Encoding.UTF8.GetBytes("Der Fischer stand vor der Morgendämmerung auf und schob sein Boot ins Wasser.");
        var slice = bytes[^Math.Min(bytes.Length, weights.Config.Window - 1 + keep + extraContext)..];
        using var runner = new OnnxRuntimeRunner(Path.Combine(folder, "model.onnx"));

        var onnx = runner.Run(slice, keep);
        var full = new DemoModel(weights).ForwardAll(bytes);

        var rows = Math.Min(keep, slice.Length);
        AssertClose(full.AsSpan((bytes.Length - rows) * 256).ToArray(), onnx);
    }

    [Fact]
    public void Export_LogitsToKeepZero_SameAsNotFeedingIt()
    {
        var bytes = Encoding.UTF8.GetBytes("Hola, ¿qué tal?");
        using var runner = new OnnxRuntimeRunner(Path.Combine(fixture.Paths.DrafterDirectory, "model.onnx"));

        Assert.Equal(runner.Run(bytes), runner.Run(bytes, 0));
    }

    [Theory]
    [InlineData(DemoFirstLayerExport.OneHotMatMul)]
    [InlineData(DemoFirstLayerExport.Gather)]
    public void Export_EitherFirstLayerForm_OnnxRuntimeMatchesReferenceForward(DemoFirstLayerExport export)
    {
        var weights = DemoModelWeights.CreateInitial(TestConfigs.Tiny(export), seed: 3);
        var bytes = Encoding.UTF8.GetBytes("¿Dónde está la biblioteca?");
        using var runner = new OnnxRuntimeRunner(DemoOnnxExporter.ExportToBytes(weights));

        AssertClose(new DemoModel(weights).ForwardAll(bytes), runner.Run(bytes));
    }

    [Theory]
    [InlineData("verifier")]
    [InlineData("drafter")]
    public void WriteModelFolder_ReloadedWeights_ExportToTheSameBytes(string model)
    {
        var (weights, folder) = Pick(model);

        var reexported = DemoOnnxExporter.ExportToBytes(weights);

        Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "model.onnx")), reexported);
    }

    [Theory]
    [InlineData("verifier", "demo-verifier", 16)]
    [InlineData("drafter", "demo-drafter", 5)]
    public void WriteModelFolder_Manifest_DescribesStatelessByteModel(string model, string name, int window)
    {
        var (_, folder) = Pick(model);

        var manifest = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(Path.Combine(folder, ModelManifest.FileName)))!;

        Assert.Equal(name, manifest.Name);
        Assert.Equal("specfn-demo", manifest.Family);
        Assert.Equal(256, manifest.VocabularySize);
        Assert.Equal("byte", manifest.Tokenizer);
        Assert.Equal("stateless", manifest.Format);
        Assert.Equal(window, manifest.Window);
        Assert.Equal([10], manifest.EosTokenIds);
        Assert.True(File.Exists(Path.Combine(folder, manifest.ModelFile)));
    }

    private (DemoModelWeights Weights, string Folder) Pick(string model) => model switch
    {
        "verifier" => (fixture.Verifier, fixture.Paths.VerifierDirectory),
        "drafter" => (fixture.Drafter, fixture.Paths.DrafterDirectory),
        _ => throw new ArgumentOutOfRangeException(nameof(model)),
    };

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = 0f;
        for (var i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }

        Assert.True(worst <= Tolerance, $"Largest logit difference {worst} exceeds {Tolerance}.");
    }
}
