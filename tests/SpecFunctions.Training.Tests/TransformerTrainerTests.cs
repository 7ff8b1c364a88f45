using SpecFunctions.Demo;
using SpecFunctions.OnnxGraphs;
using SpecFunctions.Onnx.Tokenizers;
using SpecFunctions.Training;
using Xunit.Abstractions;

namespace SpecFunctions.Training.Tests;

public sealed class TransformerTrainerTests(ITestOutputHelper output)
{
    private static readonly Lazy<IReadOnlyDictionary<string, int[]>> Streams = new(() =>
    {
        var vocabulary = BpeTokenizerTrainer.Train(DemoCorpus.Default, new BpeTrainingOptions { VocabularySize = 512 });
        var path = Path.Combine(Directory.CreateTempSubdirectory("specfn-tok-").FullName, "tokenizer.json");
        File.WriteAllText(path, vocabulary.ToTokenizerJson());
        return TransformerModels.TokenStreams(DemoCorpus.Default, HuggingFaceTokenizer.Load(path), vocabulary.EndOfTextId);
    });

    private static readonly TinyTransformerConfig Tiny = new() { VocabularySize = 512, ModelDim = 32, Heads = 2, Layers = 2, HiddenDim = 64, MaxPositions = 64 };

    [Fact]
    public void Train_SameSeedTwice_IdenticalWeights_OtherSeedDiffers()
    {
        var options = new TransformerTrainingOptions { Steps = 15, BatchSize = 4, Context = 32, WarmupSteps = 3 };
        using var a = TransformerTrainer.Train("a", Tiny, Streams.Value, options, seed: 5);
        using var b = TransformerTrainer.Train("b", Tiny, Streams.Value, options, seed: 5);
        using var c = TransformerTrainer.Train("c", Tiny, Streams.Value, options, seed: 6);

        Assert.Equal(a.ToTinyTransformer().LmHead, b.ToTinyTransformer().LmHead);
        Assert.Equal(a.ToTinyTransformer().Layers[1].Down, b.ToTinyTransformer().Layers[1].Down);
        Assert.NotEqual(a.ToTinyTransformer().LmHead, c.ToTinyTransformer().LmHead);
    }

    [Fact]
    public void Train_LossFallsFarBelowUniform()
    {
        var losses = new List<double>();
        var options = new TransformerTrainingOptions { Steps = 80, BatchSize = 8, Context = 32, WarmupSteps = 5, ReportEvery = 10 };
        using var model = TransformerTrainer.Train("m", Tiny, Streams.Value, options, seed: 1, progress: new Collect(p => losses.Add(p.Loss)));

        output.WriteLine(string.Join(", ", losses.Select(l => l.ToString("F2"))));
        Assert.Equal(8, losses.Count);
        // Uniform over 512 ids is ln 512 = 6.24 nats; the first report averages steps 1-10 near it.
        Assert.InRange(losses[0], 5.0, 6.6);
        Assert.True(losses[^1] < losses[0] - 0.7, $"loss went from {losses[0]:F2} to only {losses[^1]:F2}");
    }

    private sealed class Collect(Action<DemoTrainingProgress> action) : IProgress<DemoTrainingProgress>
    {
        public void Report(DemoTrainingProgress value) => action(value);
    }
}
