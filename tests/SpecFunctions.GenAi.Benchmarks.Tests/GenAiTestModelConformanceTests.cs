using Microsoft.ML.OnnxRuntimeGenAI;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Onnx;
using Xunit.Abstractions;

namespace SpecFunctions.GenAi.Benchmarks.Tests;

/// <summary>
/// Conformance with ONNX Runtime GenAI on real exports: its own test models (the GPT-2 pair in the combined
/// <c>past_%d</c> layout, fp32 and fp16; the model builder's float16 Llama with external data and a byte-fallback
/// SentencePiece-style tokenizer), read as they are (no <c>specfn-model.json</c>). Trait <c>Requires=genai-models</c>:
/// the folders are not part of the repository; <c>$SPECFN_GENAI_MODELS_DIR</c> names the folder holding them
/// (<c>../shared/data/genai-test-models</c> in CI, switched on by <c>.ci/run</c>).
/// </summary>
[Trait("Requires", "genai-models")]
public sealed class GenAiTestModelConformanceTests(ITestOutputHelper output)
{
    private const int NewTokens = 32;

    // The fp32 folder's tokenizer.json is the full 50,257-token GPT-2 tokenizer over a 1,000-logit graph: both models run
    // with the fp16 folder's, which matches the graph (the folders' README).
    private const string Fp32 = "tiny-random-gpt2-fp32";
    private const string Fp16 = "tiny-random-gpt2-fp16";

    // The model builder's Llama export: float16, external data, SentencePiece-style BPE with byte fallback.
    private const string Llama = "tiny-random-LlamaForCausalLM-fp16";

    private static readonly string[] Prompts =
    [
        "The quick brown fox jumps over the lazy dog.",
        "El rápido zorro marrón salta sobre el perro perezoso.",
        "Der schnelle braune Fuchs springt über den faulen Hund.",
        "Быстрая коричневая лиса прыгает через ленивую собаку.",
        "敏捷的棕色狐狸跳过了懒狗。",
        "素早い茶色の狐がのろまな犬を飛び越える。",
        "الثعلب البني السريع يقفز فوق الكلب الكسول.",
        "Janet’s ducks lay 16 eggs per day. How many does she sell?",
    ];

    private static string ModelsFolder
    {
        get
        {
            var folder = Environment.GetEnvironmentVariable("SPECFN_GENAI_MODELS_DIR");
            Assert.False(string.IsNullOrEmpty(folder), "SPECFN_GENAI_MODELS_DIR is not set: this test needs ONNX Runtime GenAI's test models (run with --filter \"Requires!=genai-models\" without them).");
            Assert.True(Directory.Exists(folder), $"SPECFN_GENAI_MODELS_DIR is '{folder}', which is not a folder.");
            return folder;
        }
    }

    private static string TokenizerFile => Path.Combine(ModelsFolder, Fp16, "tokenizer.json");

    [Theory]
    [InlineData(Fp16)]
    [InlineData(Llama)]
    public void Tokenizer_EncodesAsGenAiDoes(string name)
    {
        using var ours = OnnxLanguageModel.Load(Path.Combine(ModelsFolder, name));
        using var model = new Model(Path.Combine(ModelsFolder, name));
        using var tokenizer = new Tokenizer(model);
        var ids = 0;
        foreach (var prompt in Prompts)
        {
            using var sequences = tokenizer.Encode(prompt);
            var expected = sequences[0].ToArray();
            Assert.Equal(expected, ours.Tokenizer.Encode(prompt));
            ids += expected.Length;
        }

        output.WriteLine($"{name} tokenizer: {Prompts.Length} strings, {ids} ids, equal to ONNX Runtime GenAI's");
    }

    [Theory]
    [InlineData(Fp32)]
    [InlineData(Fp16)]
    [InlineData(Llama)]
    public void GreedyDecode_EqualsGenAiTokenForToken(string name)
    {
        var folder = Path.Combine(ModelsFolder, name);
        using var ours = OnnxLanguageModel.Load(folder, new OnnxModelOptions { TokenizerFile = name == Llama ? null : TokenizerFile });
        using var model = new Model(folder);
        var compared = 0;
        var stopped = 0;
        foreach (var prompt in Prompts)
        {
            var ids = ours.Tokenizer.Encode(prompt);
            var expected = GenAiGreedy(model, ids);
            var actual = new AutoregressiveDecoder(ours, new DecodingOptions { MaxNewTokens = NewTokens, Sampling = SamplingOptions.Greedy }).Generate(ids).Tokens;

            // GenAI stops at the end-of-sequence id (and keeps it); ours runs the whole budget here.
            Assert.Equal(expected, actual[..expected.Length]);
            if (expected.Length < NewTokens)
            {
                Assert.Contains(expected[^1], ours.Manifest.EosTokenIds);
                stopped++;
            }

            compared += expected.Length;
        }

        output.WriteLine($"{name}: {Prompts.Length} prompts, {compared} greedy tokens equal to ONNX Runtime GenAI's ({stopped} ended at end-of-sequence), 0 mismatches");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Speculative_Fp16DrafterFp32Verifier_EqualsVerifierGreedy(int gamma)
    {
        var options = new OnnxModelOptions { TokenizerFile = TokenizerFile };
        using var verifier = OnnxLanguageModel.Load(Path.Combine(ModelsFolder, Fp32), options);
        using var drafter = OnnxLanguageModel.Load(Path.Combine(ModelsFolder, Fp16), options);
        ModelPair.EnsureCompatible(drafter, verifier);
        var decoding = new DecodingOptions { Gamma = gamma, MaxNewTokens = NewTokens, Sampling = SamplingOptions.Greedy };
        long drafted = 0, accepted = 0;
        foreach (var prompt in Prompts)
        {
            var ids = verifier.Tokenizer.Encode(prompt);
            var expected = new AutoregressiveDecoder(verifier, decoding).Generate(ids);
            var speculative = new SpeculativeDecoder(drafter, verifier, decoding).Generate(ids);
            Assert.Equal(expected.Tokens, speculative.Tokens);
            drafted += speculative.DraftedTokens;
            accepted += speculative.AcceptedTokens;
        }

        output.WriteLine($"γ={gamma}: {Prompts.Length} prompts, {accepted}/{drafted} drafts accepted, tokens equal to the verifier's greedy decode");
        Assert.True(accepted > 0, "the fp16 drafter is the fp32 verifier rounded: most drafts must be accepted");
    }

    /// <summary>
    /// The MGSM languages of <c>$SPECFN_MGSM_DIR</c> (both switches needed): tokenizer ids and the greedy decode of the
    /// GPT-2 fp32 folder and of the Llama folder against GenAI's on the first 20 questions of each language (the suite import's default) (prompts cut to their first 192 ids: byte-level
    /// text in Bengali or Thai runs to several ids a character, past the graph's 512 positions).
    /// </summary>
    [Fact]
    [Trait("Requires", "mgsm")]
    public void MgsmLanguages_TokenizerAndGreedyDecode_EqualGenAi()
    {
        var mgsm = Environment.GetEnvironmentVariable("SPECFN_MGSM_DIR");
        Assert.False(string.IsNullOrEmpty(mgsm), "SPECFN_MGSM_DIR is not set: this test needs the MGSM data too.");
        var files = Directory.GetFiles(mgsm, "mgsm_*.tsv").Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(files);
        using var ours = OnnxLanguageModel.Load(Path.Combine(ModelsFolder, Fp32), new OnnxModelOptions { TokenizerFile = TokenizerFile });
        using var fp16 = new Model(Path.Combine(ModelsFolder, Fp16));
        using var tokenizer = new Tokenizer(fp16);
        using var model = new Model(Path.Combine(ModelsFolder, Fp32));
        using var llamaOurs = OnnxLanguageModel.Load(Path.Combine(ModelsFolder, Llama));
        using var llama = new Model(Path.Combine(ModelsFolder, Llama));
        using var llamaTokenizer = new Tokenizer(llama);
        int prompts = 0, ids = 0, compared = 0, llamaIds = 0, llamaCompared = 0;
        var nearTies = new List<string>();
        foreach (var file in files)
        {
            foreach (var question in File.ReadLines(file).Take(20).Select(line => line.Split('\t')[0]))
            {
                using var sequences = tokenizer.Encode(question);
                var expectedIds = sequences[0].ToArray();
                var actualIds = ours.Tokenizer.Encode(question);
                Assert.Equal(expectedIds, actualIds);
                var prompt = actualIds[..Math.Min(actualIds.Length, 192)];
                var expected = GenAiGreedy(model, prompt);
                var actual = new AutoregressiveDecoder(ours, new DecodingOptions { MaxNewTokens = NewTokens, Sampling = SamplingOptions.Greedy }).Generate(prompt).Tokens;
                Assert.Equal(expected, actual[..expected.Length]);

                // The Llama export: its byte-fallback tokenizer and its greedy decode.
                using var llamaSequences = llamaTokenizer.Encode(question);
                var llamaExpectedIds = llamaSequences[0].ToArray();
                Assert.Equal(llamaExpectedIds, llamaOurs.Tokenizer.Encode(question));
                var llamaPrompt = llamaExpectedIds[..Math.Min(llamaExpectedIds.Length, 192)];
                var llamaExpected = GenAiGreedy(llama, llamaPrompt);
                var llamaActual = new AutoregressiveDecoder(llamaOurs, new DecodingOptions { MaxNewTokens = NewTokens, Sampling = SamplingOptions.Greedy }).Generate(llamaPrompt).Tokens;
                var divergence = Enumerable.Range(0, llamaExpected.Length).FirstOrDefault(i => llamaExpected[i] != llamaActual[i], -1);
                if (divergence >= 0)
                {
                    // Our decoder runs a prompt's last token through the past path (prefill n − 1, then one step), GenAI
                    // the whole prompt in one call: in float16 the two can differ by an ulp, which flips a near-tie.
                    // A divergence is accepted only there: GenAI's token within 2 float16 ulps of ours at that position.
                    var (gap, ulp) = NearTie(llamaOurs, [.. llamaPrompt, .. llamaExpected[..divergence]], llamaExpected[divergence], llamaActual[divergence]);
                    Assert.True(gap <= 2 * ulp, $"{Path.GetFileName(file)}: diverged at token {divergence} by {gap} (float16 ulp {ulp})");
                    nearTies.Add($"{Path.GetFileName(file)} question {prompts % 20 + 1}, token {divergence}: logit gap {gap:G3} = {gap / ulp:F1} ulp");
                    llamaCompared += divergence;
                }
                else
                {
                    llamaCompared += llamaExpected.Length;
                }
                prompts++;
                ids += expectedIds.Length;
                llamaIds += llamaExpectedIds.Length;
                compared += expected.Length;
            }
        }

        output.WriteLine($"MGSM ({files.Count} languages), {prompts} questions: GPT-2 {ids} tokenizer ids and {compared} greedy tokens (fp32), Llama {llamaIds} tokenizer ids and {llamaCompared} greedy tokens, equal to ONNX Runtime GenAI's; Llama generations that diverged at a float16 near-tie: {nearTies.Count} ({string.Join("; ", nearTies)})");
    }

    /// <summary>
    /// Sampling is lossless on the GPT-2 pair (fp16 drafter, fp32 verifier, temperature 1): over 4,000 seeds, the first
    /// token speculative decoding emits follows the verifier's own distribution after the prompt (χ² over 20 bins of
    /// equal verifier probability, 19 degrees of freedom, rejected above 43.82, the 0.1 % critical value).
    /// </summary>
    [Fact]
    public void Sampling_Fp16DrafterFp32Verifier_FirstTokenFollowsTheVerifierDistribution()
    {
        const int samples = 4000, bins = 20;
        var options = new OnnxModelOptions { TokenizerFile = TokenizerFile };
        using var verifier = OnnxLanguageModel.Load(Path.Combine(ModelsFolder, Fp32), options);
        using var drafter = OnnxLanguageModel.Load(Path.Combine(ModelsFolder, Fp16), options);
        var prompt = verifier.Tokenizer.Encode(Prompts[1]);
        var logits = new float[verifier.VocabularySize];
        using (var sequence = verifier.CreateSequence())
        {
            sequence.Append(prompt[..^1], []);
            sequence.Append(prompt[^1..], logits);
        }

        var max = logits.Max();
        var weights = logits.Select(l => Math.Exp(l - max)).ToArray();
        var total = weights.Sum();
        var p = weights.Select(w => w / total).ToArray();

        // Bins of about equal verifier probability: tokens in id order, a new bin each 1/bins of the mass.
        var bin = new int[p.Length];
        var mass = new double[bins];
        var cumulative = 0.0;
        for (var id = 0; id < p.Length; id++)
        {
            bin[id] = Math.Min(bins - 1, (int)(cumulative * bins));
            mass[bin[id]] += p[id];
            cumulative += p[id];
        }

        var counts = new int[bins];
        long drafted = 0, accepted = 0;
        for (var seed = 0; seed < samples; seed++)
        {
            var result = new SpeculativeDecoder(drafter, verifier, new DecodingOptions { Gamma = 4, MaxNewTokens = 5, Seed = seed, Sampling = new SamplingOptions { Temperature = 1 } }).Generate(prompt);
            counts[bin[result.Tokens[0]]]++;
            drafted += result.DraftedTokens;
            accepted += result.AcceptedTokens;
        }

        var statistic = Enumerable.Range(0, bins).Sum(b => Math.Pow(counts[b] - (samples * mass[b]), 2) / (samples * mass[b]));
        output.WriteLine($"χ² = {statistic:F2} over {bins} bins (df {bins - 1}, critical 43.82 at 0.1 %), {samples} samples, {accepted}/{drafted} drafts accepted");
        Assert.True(mass.All(m => m * samples >= 5), "every bin needs an expected count of at least 5");
        Assert.True(statistic < 43.82, $"χ² {statistic:F2} ≥ 43.82: the first tokens do not follow the verifier's distribution");
    }

    /// <summary>
    /// The Llama folder as drafter and verifier: every draft is accepted, so verification appends γ + 1 tokens after a
    /// past, which the model builder's MultiHeadAttention graph cannot take in one call (its causal mask is [n, n]); the
    /// decoder falls back to one token per call and the output stays the verifier's greedy decode.
    /// </summary>
    [Fact]
    public void Speculative_LlamaAsBothModels_EqualsVerifierGreedy()
    {
        using var verifier = OnnxLanguageModel.Load(Path.Combine(ModelsFolder, Llama));
        using var drafter = OnnxLanguageModel.Load(Path.Combine(ModelsFolder, Llama));
        ModelPair.EnsureCompatible(drafter, verifier);
        var decoding = new DecodingOptions { Gamma = 4, MaxNewTokens = NewTokens, Sampling = SamplingOptions.Greedy };
        long drafted = 0, accepted = 0;
        foreach (var prompt in Prompts)
        {
            int[] ids = [verifier.Manifest.BosTokenId!.Value, .. verifier.Tokenizer.Encode(prompt)];
            var expected = new AutoregressiveDecoder(verifier, decoding).Generate(ids);
            var speculative = new SpeculativeDecoder(drafter, verifier, decoding).Generate(ids);
            Assert.Equal(expected.Tokens, speculative.Tokens);
            drafted += speculative.DraftedTokens;
            accepted += speculative.AcceptedTokens;
        }

        Assert.Equal(drafted, accepted);
        Assert.True(Assert.IsType<DecoderWithPastOnnxModel>(verifier).OneTokenPerCallAfterPast);
        output.WriteLine($"Llama as both models, γ=4: {Prompts.Length} prompts, {accepted}/{drafted} drafts accepted, tokens equal to the verifier's greedy decode");
    }

    /// <summary>
    /// The side-by-side benchmark takes the exports as they are (<c>--verifier/--drafter</c>, and <c>--tokenizer</c> for the
    /// fp32 folder): every arm that runs emits the verifier's greedy tokens. ONNX Runtime GenAI 0.18's own speculative
    /// decoding fails on both pairs (the model builder's Llama graph refuses the multi-token append after the prompt; the
    /// GPT-2 draft's combined <c>past_%d</c> cache is not fed): the run then leaves out arms (b) and (f), says why, and
    /// compares ours with the autoregressive arms of both runtimes.
    /// </summary>
    [Theory]
    [InlineData(Fp32, Fp16)]
    [InlineData(Llama, Llama)]
    public async Task SideBySide_TakesTheExportsAsTheyAre(string verifierName, string drafterName)
    {
        var work = Path.Combine(Path.GetTempPath(), "specfn-genai-side-" + Guid.NewGuid().ToString("N")[..12]);
        var settings = new SideBySideSettings
        {
            Gamma = 3, Prompts = 2, MaxNewTokens = 16, Repeats = 1, Threads = 1, AdaptiveMinK = 1,
            TokenizerFile = verifierName == Fp32 ? TokenizerFile : null,
        };
        (string, IReadOnlyList<string>)[] tasks = [("latin", Prompts[..3]), ("other", Prompts[3..])];
        try
        {
            var result = await SideBySide.RunAsync(Path.Combine(ModelsFolder, verifierName), Path.Combine(ModelsFolder, drafterName), tasks, settings, work, TextWriter.Null);

            Assert.Empty(result.Disagreements);
            string[] arms = result.GenAiSpeculativeRefusal is null ? ["a", "b", "c", "d", "e", "f", "g"] : ["a", "c", "d", "e", "g"];
            Assert.Equal(arms, result.Arms.Select(a => a.Key));
            Assert.Equal(2 * 2 * arms.Length, result.Comparisons); // languages × prompts × arms, one repeat
            Assert.All(result.Languages, l => Assert.Equal(2 * 16, l.Tokens));
            Assert.All(result.Languages, l => Assert.Equal(l.Tokens, l.Arms["d"].Counters!.Emitted));
            var lines = SideBySideReport.Render(result, "test");
            if (result.GenAiSpeculativeRefusal is { } refusal)
            {
                Assert.Contains(lines, l => l.StartsWith("**ONNX Runtime GenAI's speculative decoding fails on this pair**", StringComparison.Ordinal) && l.Contains(refusal, StringComparison.Ordinal));
                Assert.Contains(lines, l => l.StartsWith("**(d)/(c) = ", StringComparison.Ordinal));
                Assert.Contains(lines, l => l.StartsWith("| language | tokens | (a) | (c) | (d) | (e) | (d)/(c) | (e)/(c) | (c)/(a) |", StringComparison.Ordinal));
            }

            output.WriteLine($"{verifierName} / {drafterName}: {result.Comparisons} generations agree; GenAI speculative: {result.GenAiSpeculativeRefusal ?? "ran"}");
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    /// <summary>
    /// Our logits after <paramref name="prefix"/> (computed as the decoder does: all but the last token, then the last):
    /// the gap between the logit of <paramref name="ours"/> and of <paramref name="theirs"/>, and one float16 ulp at that size.
    /// </summary>
    private static (double Gap, double Ulp) NearTie(OnnxLanguageModel model, int[] prefix, int theirs, int ours)
    {
        using var sequence = model.CreateSequence();
        var logits = new float[model.VocabularySize];
        sequence.Append(prefix[..^1], []);
        sequence.Append(prefix[^1..], logits);
        var top = Math.Abs(logits[ours]);
        var ulp = Math.Pow(2, Math.Floor(Math.Log2(top)) - 10);
        return (logits[ours] - logits[theirs], ulp);
    }

    private static int[] GenAiGreedy(Model model, int[] prompt)
    {
        using var parameters = new GeneratorParams(model);
        parameters.SetSearchOption("max_length", prompt.Length + NewTokens);
        parameters.SetSearchOption("do_sample", false);
        using var generator = new Generator(model, parameters);
        generator.AppendTokens(prompt);
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
        }

        return generator.GetSequence(0)[prompt.Length..].ToArray();
    }
}
