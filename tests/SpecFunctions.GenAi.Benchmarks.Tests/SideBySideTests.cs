using System.Text.Json.Nodes;
using SpecFunctions.OnnxGraphs;

namespace SpecFunctions.GenAi.Benchmarks.Tests;

/// <summary>
/// The side-by-side run on a random-weight decoder-with-past pair written by the product's graph builder (a verifier and a
/// smaller drafter), every arm through the real runtimes: ONNX Runtime GenAI 0.18.0 and our engine.
/// </summary>
public sealed class SideBySideTests : IDisposable
{
    private static readonly (string Id, IReadOnlyList<string> Prompts)[] Tasks =
    [
        ("alpha", ["The cat sat on the mat.", "A quick brown fox", "Numbers: 1, 2, 3"]),
        ("beta", ["Über den Wolken", "Привет, мир", "日本語のテキスト"]),
    ];

    private readonly string _root = Path.Combine(Path.GetTempPath(), "specfn-genai-tests-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private (string Verifier, string Drafter) WritePair(bool identical = false, bool endOfSequenceFirst = false)
    {
        // Peaky random weights; the drafter is the verifier with a noisy LM head, so greedy drafts are sometimes accepted
        // and sometimes not (or always, when identical).
        var config = new TinyTransformerConfig { Layers = 2, ModelDim = 32, Heads = 2, HiddenDim = 64, MaxPositions = 256, WeightScale = 2.5f, Seed = 11 };
        var verifier = TinyTransformer.Create(config);
        if (endOfSequenceFirst)
        {
            // End-of-sequence (257) takes the logit column of the token that would follow the first prompt, scaled up a
            // little: that prompt's generation then ends at once, in both runtimes.
            var prompt = new[] { 256 }.Concat(System.Text.Encoding.UTF8.GetBytes(Tasks[0].Prompts[0]).Select(b => (int)b)).ToArray();
            var logits = verifier.Forward(prompt);
            var v = config.VocabularySize;
            var next = Enumerable.Range(0, v).MaxBy(t => logits[((prompt.Length - 1) * v) + t]);
            for (var row = 0; row < config.ModelDim; row++)
            {
                verifier.LmHead[(row * v) + 257] = verifier.LmHead[(row * v) + next] * 1.05f;
            }
        }

        var random = new Random(5);
        var head = verifier.LmHead.Select(w => identical ? w : w + (float)(random.NextDouble() - 0.5) * 1.2f * Math.Abs(w + 0.1f)).ToArray();
        var drafter = TinyTransformer.FromWeights(config, verifier.TokenEmbedding, verifier.PositionEmbedding, verifier.Layers, verifier.FinalNormScale, verifier.FinalNormBias, head);
        return (TinyTransformerBuilder.WriteModelFolder(Path.Combine(_root, "verifier"), verifier, "tiny-verifier"),
            TinyTransformerBuilder.WriteModelFolder(Path.Combine(_root, "drafter"), drafter, "tiny-drafter"));
    }

    private Task<SideBySideResult> RunAsync(string verifier, string drafter, SideBySideSettings settings) =>
        SideBySide.RunAsync(verifier, drafter, Tasks, settings, Path.Combine(_root, "work"), TextWriter.Null);

    [Fact]
    public async Task EveryArmEmitsTheVerifiersGreedyTokens_AndBothRuntimesCountTheSameRounds()
    {
        var (verifier, drafter) = WritePair();
        var settings = new SideBySideSettings { Gamma = 3, Prompts = 3, MaxNewTokens = 40, Repeats = 2, Threads = 1, AdaptiveMinK = 1 };
        var result = await RunAsync(verifier, drafter, settings);

        Assert.Empty(result.Disagreements);
        Assert.Equal(2 * 3 * 2 * 7, result.Comparisons); // languages × prompts × repeats × arms (a–g)
        Assert.Equal(["a", "b", "c", "d", "e", "f", "g"], result.Arms.Select(a => a.Key));
        foreach (var language in result.Languages)
        {
            // End-of-sequence ignored: every prompt generates the whole budget in every arm.
            Assert.Equal(3 * 40, language.Tokens);
            var genAi = language.Arms["b"].Counters!;
            var ours = language.Arms["d"].Counters!;
            var bare = language.Arms["e"].Counters!;

            // Same greedy algorithm, same draft length: round for round the same work.
            Assert.Equal(ours.Rounds, genAi.Rounds);
            Assert.Equal(ours.Emitted, genAi.Emitted);
            Assert.Equal(language.Tokens, ours.Emitted);
            Assert.Equal(ours.Rounds, bare.Rounds);
            Assert.Equal(ours.Accepted, bare.Accepted);
            Assert.InRange(ours.Accepted, 1, ours.Proposed - 1); // some drafts accepted, some rejected: the comparison means something

            // The runtimes book the budget's last round differently (we draft only as many tokens as the budget has room
            // for and count the last one as the bonus; GenAI drafts K and counts every emitted draft as accepted): at most
            // one token apart per prompt.
            Assert.InRange(genAi.Accepted - ours.Accepted, 0, 3);

            // Greedy α(s) on the reference prefixes (the verifier's own greedy continuation) is 1 where the argmaxes agree.
            // Every accepted draft is such a prefix, and the continuation has at most accepted + rounds tokens, so the mean
            // is at least accepted / (accepted + rounds); a rejection's correction token is a prefix where they differ.
            Assert.InRange(language.ExactAlpha, (double)ours.Accepted / (ours.Accepted + ours.Rounds), 1.0);
            Assert.True(language.ExactAlpha < 1.0);
            Assert.All(language.Arms["d"].UntimedMs!, ms => Assert.True(ms > 0, "arm (d) reported no untimed reference pass"));
            Assert.All(language.Arms.Values, a => Assert.Equal(3, a.PromptMs.Length));
            Assert.All(language.Arms.Values, a => Assert.All(a.PromptMs, ms => Assert.True(ms > 0)));
            Assert.InRange(language.OptimalGamma!.Value, 0, 3);
        }

        var lines = SideBySideReport.Render(result, "test");
        Assert.Contains(lines, l => l.StartsWith("**Agreement: every arm emitted", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("| **all** |", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StopAtEos_GenAisSequenceWithoutTheToken_StillAgrees()
    {
        // A drafter identical to the verifier: every draft accepted; end-of-sequence (id 257) may end generations early.
        var (verifier, drafter) = WritePair(identical: true, endOfSequenceFirst: true);
        var settings = new SideBySideSettings { Gamma = 4, Prompts = 3, MaxNewTokens = 30, Repeats = 1, Threads = 1, AdaptiveMinK = 0, IgnoreEos = false };
        var result = await RunAsync(verifier, drafter, settings);

        Assert.Empty(result.Disagreements);
        Assert.Equal(2 * 3 * 5, result.Comparisons);
        Assert.True(result.Languages.Sum(l => l.Tokens) < 2 * 3 * 30, "no generation ended at end-of-sequence: the case is not exercised");
        foreach (var language in result.Languages)
        {
            var genAi = language.Arms["b"].Counters!;
            var ours = language.Arms["d"].Counters!;
            Assert.Equal(ours.Proposed, ours.Accepted); // self-drafting accepts everything
            Assert.Equal(genAi.Accepted, genAi.Evaluated);
            Assert.Equal(1.0, language.ExactAlpha);
        }
    }

    [Fact]
    public void SpeculativeFolder_PutsTheDrafterBesideTheTarget()
    {
        var (verifier, drafter) = WritePair();
        // Both exports' external data under the one usual name: each must land beside its own graph.
        File.WriteAllBytes(Path.Combine(verifier, "model.onnx.data"), [1, 2, 3]);
        File.WriteAllBytes(Path.Combine(drafter, "model.onnx.data"), [4, 5]);
        var folder = GenAiFolders.WriteSpeculative(verifier, drafter, Path.Combine(_root, "spec"), gamma: 5);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, GenAiFolders.ConfigFileName)))!;
        Assert.Equal("target/model.onnx", config["model"]!["decoder"]!["filename"]!.GetValue<string>());
        Assert.Equal("draft/model.onnx", config["model"]!["draft"]!["filename"]!.GetValue<string>());
        Assert.Equal([1, 2, 3], File.ReadAllBytes(Path.Combine(folder, "target", "model.onnx.data")));
        Assert.Equal([4, 5], File.ReadAllBytes(Path.Combine(folder, "draft", "model.onnx.data")));
        Assert.Equal(2, config["model"]!["draft"]!["num_hidden_layers"]!.GetValue<int>());
        Assert.Equal(32, config["model"]!["decoder"]!["hidden_size"]!.GetValue<int>());
        Assert.Equal(5, config["speculative"]!["max_draft_tokens"]!.GetValue<int>());
        Assert.Equal(File.ReadAllBytes(Path.Combine(drafter, "model.onnx")), File.ReadAllBytes(Path.Combine(folder, "draft", "model.onnx")));
        using var model = GenAiFolders.Load(folder, intraOpThreads: 1);
        Assert.Equal("decoder", model.GetModelType());
    }

    [Fact]
    public void FolderWithoutGenAiConfig_IsAClearError()
    {
        var (verifier, drafter) = WritePair();
        File.Delete(Path.Combine(drafter, GenAiFolders.ConfigFileName));
        var error = Assert.Throws<FileNotFoundException>(() => GenAiFolders.WriteSpeculative(verifier, drafter, Path.Combine(_root, "spec"), 4));
        Assert.Contains("genai_config.json", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { 1, 2, 3 }, new[] { 1, 2, 3 }, null)]
    [InlineData(new[] { 1, 2, 3 }, new[] { 1, 9, 3 }, 1)]
    [InlineData(new[] { 1, 2, 3 }, new[] { 1, 2 }, 2)]
    [InlineData(new[] { 1, 2 }, new[] { 1, 2, 7 }, 2)]
    public void Difference_IsTheFirstDifferingToken(int[] expected, int[] actual, int? at) =>
        Assert.Equal(at, SideBySide.Difference(expected, actual));
}
