using SpecFunctions.Demo;
using SpecFunctions.Onnx;
using SpecFunctions.OnnxGraphs;
using SpecFunctions.Onnx.Tokenizers;
using SpecFunctions.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace SpecFunctions.Training.Tests;

/// <summary>A tiny transformer pair trained once for the tests in this class (seconds), written as model folders.</summary>
public sealed class TinyTrainedPairFixture : IDisposable
{
    public TinyTrainedPairFixture()
    {
        Root = Directory.CreateTempSubdirectory("specfn-tf-").FullName;
        Paths = TransformerModels.EnsureAsync(Root, seed: 3, settings: TinySettings.Pair).GetAwaiter().GetResult();
    }

    public string Root { get; }

    public TransformerModelPaths Paths { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

internal static class TinySettings
{
    public static TransformerPairSettings Pair { get; } = new()
    {
        Tokenizer = new BpeTrainingOptions { VocabularySize = 512 },
        Verifier = new TinyTransformerConfig { ModelDim = 32, Heads = 2, Layers = 2, HiddenDim = 64, MaxPositions = 160 },
        Drafter = new TinyTransformerConfig { ModelDim = 16, Heads = 2, Layers = 1, HiddenDim = 32, MaxPositions = 160 },
        VerifierTraining = new TransformerTrainingOptions { Steps = 150, BatchSize = 8, Context = 32, LearningRate = 1e-2, WarmupSteps = 10, ReportEvery = 50 },
        DrafterTraining = new TransformerTrainingOptions
        {
            Steps = 80, BatchSize = 8, Context = 32, LearningRate = 1e-2, WarmupSteps = 10, ReportEvery = 40,
            LanguageMix = new Dictionary<string, double> { ["en"] = 1.0 },
        },
    };
}

public sealed class TransformerExportTests(TinyTrainedPairFixture fixture, ITestOutputHelper output) : IClassFixture<TinyTrainedPairFixture>
{
    [Theory]
    [InlineData("verifier")]
    [InlineData("drafter")]
    public void ExportedOnnx_RandomAppendAndRewind_MatchesTorchSharpForward(string which)
    {
        var folder = which == "verifier" ? fixture.Paths.VerifierDirectory : fixture.Paths.DrafterDirectory;
        using var torchModel = TransformerModels.LoadModel(folder);
        using var onnx = OnnxLanguageModel.Load(folder);
        Assert.IsType<DecoderWithPastOnnxModel>(onnx);
        var v = onnx.VocabularySize;
        var random = new Random(11);
        var tokens = new List<int>();
        using var sequence = onnx.CreateSequence();
        var maxDelta = 0.0;
        var steps = 0;
        var rewinds = 0;
        for (; steps < 120; steps++)
        {
            // Rewind now and then (a rejected draft), then append 1..5 random tokens, staying inside the positions.
            if (tokens.Count > 0 && random.NextDouble() < 0.35)
            {
                var keep = random.Next(tokens.Count);
                tokens.RemoveRange(keep, tokens.Count - keep);
                sequence.Truncate(keep);
                rewinds++;
            }

            var count = Math.Min(1 + random.Next(5), torchModel.Config.MaxPositions - tokens.Count);
            if (count <= 0)
            {
                tokens.Clear();
                sequence.Truncate(0);
                continue;
            }

            var appended = Enumerable.Range(0, count).Select(_ => random.Next(v)).ToArray();
            var logits = new float[count * v];
            sequence.Append(appended, logits);
            tokens.AddRange(appended);
            Assert.Equal(tokens.Count, sequence.Length);

            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var reference = torchModel.forward(tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Count]))
                .narrow(1, tokens.Count - count, count).contiguous().data<float>().ToArray();
            for (var i = 0; i < logits.Length; i++)
            {
                maxDelta = Math.Max(maxDelta, Math.Abs(logits[i] - reference[i]));
            }
        }

        output.WriteLine($"{which}: {steps} steps, {rewinds} rewinds, max |Δ logits| = {maxDelta:E2}");
        Assert.True(rewinds >= 20, $"only {rewinds} rewinds");
        Assert.True(maxDelta <= 1e-4, $"{which}: exported ONNX differs from TorchSharp by {maxDelta:E2}");
    }

    [Fact]
    public async Task EnsureAsync_SecondCallSameInputs_ReusesAndReportsTheRecordedParameterCounts()
    {
        var again = await TransformerModels.EnsureAsync(fixture.Root, seed: 3, settings: TinySettings.Pair);

        Assert.False(fixture.Paths.Reused);
        Assert.True(again.Reused);
        Assert.Equal(fixture.Paths.CacheKey, again.CacheKey);
        Assert.Equal(fixture.Paths.VerifierDirectory, again.VerifierDirectory);
        Assert.Equal(fixture.Paths.DrafterDirectory, again.DrafterDirectory);
        Assert.Equal(fixture.Paths.VerifierParameters, again.VerifierParameters);
        Assert.Equal(fixture.Paths.DrafterParameters, again.DrafterParameters);
        Assert.True(fixture.Paths.DrafterParameters > 0 && fixture.Paths.VerifierParameters > fixture.Paths.DrafterParameters);
        Assert.Equal(TimeSpan.Zero, again.VerifierTrainingTime);
    }

    [Fact]
    public void ModelFolder_HasGenAiLayoutAndLoadsWithTheProductsTokenizer()
    {
        foreach (var folder in new[] { fixture.Paths.VerifierDirectory, fixture.Paths.DrafterDirectory })
        {
            foreach (var file in new[] { "model.onnx", "genai_config.json", "tokenizer.json", "tokenizer_config.json", "specfn-model.json" })
            {
                Assert.True(File.Exists(Path.Combine(folder, file)), $"{folder} has no {file}");
            }

            using var model = OnnxLanguageModel.Load(folder);
            Assert.Equal(HuggingFaceTokenizer.KindName, model.Tokenizer.Kind);
            Assert.Equal(512, model.VocabularySize);
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "genai_config.json")))!;
            var layers = model is DecoderWithPastOnnxModel d ? d.LayerCount : -1;
            Assert.Equal(layers, config["model"]!["decoder"]!["num_hidden_layers"]!.GetValue<int>());
            Assert.Equal(511, config["model"]!["eos_token_id"]!.GetValue<int>());

            // GenAI's generic decoder-only type: its "gpt2" type reads GPT-2's combined past_N cache and cannot load this graph.
            Assert.Equal("decoder", config["model"]!["type"]!.GetValue<string>());
            Assert.Equal("past_key_values.%d.key", config["model"]!["decoder"]!["inputs"]!["past_key_names"]!.GetValue<string>());
            var text = "The cat sat on the mat.";
            Assert.Equal(text, model.Tokenizer.Decode(model.Tokenizer.Encode(text)));
        }
    }
}
