using System.Security.Cryptography;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Demo;
using SpecFunctions.Onnx;
using Xunit.Abstractions;

namespace SpecFunctions.Training.Tests;

public sealed class TransformerMitigationTests(TinyTrainedPairFixture fixture, ITestOutputHelper output) : IClassFixture<TinyTrainedPairFixture>, IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("specfn-tf-mit-").FullName;

    // The tiny pair's drafter saw only English.
    private static readonly string[] TaskIds = ["en", "es", "zh"];

    private static MitigationOptions Options { get; } = MitigationOptions.Transformer with { Steps = 60, BatchSize = 8, LearningRate = 3e-3, ReweightEvery = 20, PromptsPerTask = 12, Continuation = 12 };

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private static MitigationTask[] Tasks(double[] crossEntropy) =>
    [
        .. TaskIds.Select((id, i) => new MitigationTask(id, crossEntropy[i], DemoCorpus.TrainingPrompts(id, 12), DemoCorpus.Default[id].HeldOutPrompts.Take(8).ToArray())),
    ];

    [Fact]
    public void SCdf_TinyPair_LowersHeldOutUnfairness_LeavesVerifierAlone_WritesALoadableDrafter()
    {
        var verifierHash = FolderHash(fixture.Paths.VerifierDirectory);
        var drafterHash = FolderHash(fixture.Paths.DrafterDirectory);
        var none = TrainToFolder(
            MitigationStrategies.None, WeightRule.ShiftByMinimum,
            Tasks([1, 1, 1]), 1, Path.Combine(_out, "none"), Options).Result;

        // Measured D_T handed in as the evaluation would: the held-out estimates of the base drafter.
        var (folder, result) = TrainToFolder(
            MitigationStrategies.SCdf, WeightRule.ShiftByMinimum,
            Tasks([.. none.CrossEntropyBefore]), 1, Path.Combine(_out, "s-cdf"), Options, new Collect(output.WriteLine));

        output.WriteLine($"D_T before {string.Join(" ", result.CrossEntropyBefore.Select(d => d.ToString("F3")))}, after {string.Join(" ", result.CrossEntropyAfter.Select(d => d.ToString("F3")))}");
        Assert.Equal(none.CrossEntropyBefore, none.CrossEntropyAfter);
        Assert.Equal(none.CrossEntropyBefore, result.CrossEntropyBefore);
        Assert.True(result.UnfairnessAfter < 0.9 * result.UnfairnessBefore, $"U {result.UnfairnessBefore:G4} → {result.UnfairnessAfter:G4}");
        Assert.Equal(verifierHash, FolderHash(fixture.Paths.VerifierDirectory));
        Assert.Equal(drafterHash, FolderHash(fixture.Paths.DrafterDirectory));

        // The new folder: same manifest as the base drafter, new weights, loads in the product as decoder-with-past.
        Assert.Equal(File.ReadAllBytes(Path.Combine(fixture.Paths.DrafterDirectory, "specfn-model.json")), File.ReadAllBytes(Path.Combine(folder, "specfn-model.json")));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(fixture.Paths.DrafterDirectory, "model.onnx")), File.ReadAllBytes(Path.Combine(folder, "model.onnx")));
        using var model = OnnxLanguageModel.Load(folder);
        Assert.IsType<DecoderWithPastOnnxModel>(model);
    }

    [Fact]
    public void SCdf_SameSeedTwice_IdenticalDrafter()
    {
        var tasks = Tasks([2.0, 3.0, 4.0]);
        var small = Options with { Steps = 10, ReweightEvery = 5 };
        var a = TrainToFolder(MitigationStrategies.SCdf, WeightRule.ShiftByMinimum, tasks, 7, Path.Combine(_out, "a"), small).Folder;
        var b = TrainToFolder(MitigationStrategies.SCdf, WeightRule.ShiftByMinimum, tasks, 7, Path.Combine(_out, "b"), small).Folder;

        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "model.onnx")), File.ReadAllBytes(Path.Combine(b, "model.onnx")));
    }

    [Fact]
    public void Temperature_KeepsTheManifestAndNeverRaisesU()
    {
        var (folder, result) = TrainToFolder(
            MitigationStrategies.Temperature, WeightRule.ShiftByMinimum,
            Tasks([1, 1, 1]), 1, Path.Combine(_out, "t"), Options, new Collect(output.WriteLine));

        Assert.True(result.UnfairnessAfter <= result.UnfairnessBefore);
        Assert.Contains("τ =", result.Notes, StringComparison.Ordinal);
        using var model = OnnxLanguageModel.Load(folder);
        Assert.Equal(512, model.VocabularySize);
    }

    [Fact]
    public void Trainer_SupportsOnlyTheTransformerFamily_AndRefusesAnExistingOutput()
    {
        var trainer = new TransformerDrafterTrainer(Options);
        Assert.True(trainer.Supports(TransformerModels.Family));
        Assert.False(trainer.Supports(DemoModels.Family));

        Directory.CreateDirectory(Path.Combine(_out, "x", "drafter"));
        Assert.Throws<IOException>(() => TrainToFolder(
            MitigationStrategies.None, WeightRule.ShiftByMinimum, Tasks([1, 1, 1]), 1, Path.Combine(_out, "x"), Options));
    }

    private (string Folder, DrafterMitigationResult Result) TrainToFolder(
        string strategy, WeightRule rule, MitigationTask[] tasks, int seed, string outputFolder, MitigationOptions options, IProgress<string>? progress = null) =>
        new TransformerDrafterTrainer(options).TrainToFolder(
            new DrafterTrainingJob
            {
                VerifierFolder = fixture.Paths.VerifierDirectory,
                DrafterFolder = fixture.Paths.DrafterDirectory,
                Strategy = strategy,
                WeightRule = rule,
                Tasks = tasks,
                Seed = seed,
            },
            outputFolder,
            progress);

    private static string FolderHash(string folder) => Convert.ToHexString(SHA256.HashData(
        [.. Directory.GetFiles(folder).Order(StringComparer.Ordinal).SelectMany(f => File.ReadAllBytes(f))]));

    private sealed class Collect(Action<string> action) : IProgress<string>
    {
        public void Report(string value) => action(value);
    }
}
