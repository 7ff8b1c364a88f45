using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Onnx;
using SpecFunctions.Core.Models;
using SpecFunctions.Demo;
using SpecFunctions.Demo.Pairs;
using SpecFunctions.Onnx;
using SpecFunctions.OnnxGraphs;
using SpecFunctions.Onnx.Tokenizers;
using TorchSharp;

namespace SpecFunctions.Training;

/// <summary>Shapes and training settings of a transformer pair (the tokenizer, the verifier, the drafter).</summary>
public sealed record TransformerPairSettings
{
    /// <summary>The byte-level BPE tokenizer: 2048 ids.</summary>
    public BpeTrainingOptions Tokenizer { get; init; } = new();

    /// <summary>The verifier: 4 layers, width 128, 4 heads, MLP 512, 256 positions (≈ 1.35 M parameters with 2048 ids).</summary>
    public TinyTransformerConfig Verifier { get; init; } = new() { ModelDim = 128, Heads = 4, Layers = 4, HiddenDim = 512, MaxPositions = 256 };

    /// <summary>The drafter: 1 layer, width 64, 2 heads, MLP 256, 256 positions (≈ 0.3 M parameters).</summary>
    public TinyTransformerConfig Drafter { get; init; } = new() { ModelDim = 64, Heads = 2, Layers = 1, HiddenDim = 256, MaxPositions = 256 };

    /// <summary>Verifier training: every language equally.</summary>
    public TransformerTrainingOptions VerifierTraining { get; init; } = new() { Steps = 250, BatchSize = 16, Context = 64, LearningRate = 3e-3 };

    /// <summary>
    /// Drafter training: distilled from the verifier (soft labels) on 78 % English, 20 % Spanish and 0.5 % each of the rest,
    /// the mix of the MLP demo drafter.
    /// </summary>
    public TransformerTrainingOptions DrafterTraining { get; init; } = new()
    {
        Steps = 250,
        BatchSize = 16,
        Context = 64,
        LearningRate = 3e-3,
        LanguageMix = new Dictionary<string, double>
        {
            ["en"] = 0.78,
            ["es"] = 0.20,
            ["fr"] = 0.005,
            ["de"] = 0.005,
            ["ru"] = 0.005,
            ["zh"] = 0.005,
        },
    };

    /// <summary>The settings of <c>specfn models demo --kind transformer</c>.</summary>
    public static TransformerPairSettings Default { get; } = new();
}

/// <summary>Where <see cref="TransformerModels.EnsureAsync"/> put the transformer pair.</summary>
/// <param name="VerifierDirectory">Model folder of the verifier (ONNX decoder-with-past, manifest, genai_config.json, tokenizer files).</param>
/// <param name="DrafterDirectory">Model folder of the drafter.</param>
/// <param name="CacheKey">SHA-256 (hex) of corpus, settings, seed and <see cref="TransformerModels.CodeVersion"/>.</param>
/// <param name="Reused">True when the folders were already there for this key and nothing was trained.</param>
/// <param name="TokenizerTrainingTime">Wall time spent training the tokenizer (zero when reused).</param>
/// <param name="VerifierTrainingTime">Wall time spent training the verifier (zero when reused).</param>
/// <param name="DrafterTrainingTime">Wall time spent training the drafter (zero when reused).</param>
/// <param name="VerifierParameters">Trainable parameters of the verifier.</param>
/// <param name="DrafterParameters">Trainable parameters of the drafter.</param>
public sealed record TransformerModelPaths(
    string VerifierDirectory,
    string DrafterDirectory,
    string CacheKey,
    bool Reused,
    TimeSpan TokenizerTrainingTime,
    TimeSpan VerifierTrainingTime,
    TimeSpan DrafterTrainingTime,
    long VerifierParameters,
    long DrafterParameters);

/// <summary>
/// The transformer demo pair: a byte-level BPE tokenizer trained on the demo corpus, a GPT-style verifier trained on every
/// language in balance and a one-layer drafter distilled from it mostly on English and Spanish. Trained with TorchSharp,
/// exported in the optimum / ONNX Runtime GenAI decoder-with-past layout (<c>model.onnx</c>, <c>genai_config.json</c>,
/// <c>tokenizer.json</c>, <c>tokenizer_config.json</c>) plus <c>specfn-model.json</c> and the TorchSharp weights
/// (<c>weights.pt</c>, to fine-tune a drafter). Built on first use, cached by content hash.
/// </summary>
public static class TransformerModels
{
    /// <summary>Bump when a code change alters the trained weights or the exported files: it invalidates caches.</summary>
    public const string CodeVersion = "transformer-2";

    /// <summary>Default root folder, relative to the working directory.</summary>
    public const string DefaultRoot = ".specfn/models/transformer";

    /// <summary>Model family written to the manifests.</summary>
    public const string Family = "specfn-transformer";

    /// <summary>TorchSharp weights file in each model folder.</summary>
    public const string WeightsFileName = "weights.pt";

    /// <summary>Model config file in each model folder (shape of the network).</summary>
    public const string ConfigFileName = "specfn-transformer.json";

    private const string CacheFileName = "specfn-transformer-cache.json";

    /// <summary>
    /// Makes sure <c>rootDir/verifier</c> and <c>rootDir/drafter</c> hold the pair for <paramref name="seed"/>: reuses them
    /// when their cache key matches, else trains tokenizer, verifier and drafter and writes them (staged, then swapped in).
    /// </summary>
    public static async Task<TransformerModelPaths> EnsureAsync(
        string rootDir,
        int seed = DemoModels.DefaultSeed,
        IProgress<DemoTrainingProgress>? progress = null,
        TransformerPairSettings? settings = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(rootDir);
        settings ??= TransformerPairSettings.Default;
        var root = Path.GetFullPath(rootDir);
        var corpus = DemoCorpus.Default;
        var key = ComputeCacheKey(corpus, seed, settings);
        TransformerModelPaths? trained = null;
        var (stamp, reused) = await ModelPairCache.EnsureAsync(root, CacheFileName, key, PairFiles, staging =>
        {
            trained = TrainAndWrite(staging, corpus, seed, settings, progress, cancellationToken);
            return new CacheStamp(key, seed, CodeVersion, corpus.Hash, trained.VerifierParameters, trained.DrafterParameters, DateTimeOffset.UtcNow);
        }, cancellationToken).ConfigureAwait(false);
        var paths = trained ?? new TransformerModelPaths(
            string.Empty, string.Empty, key, true, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, stamp.VerifierParameters, stamp.DrafterParameters);
        return paths with
        {
            VerifierDirectory = Path.Combine(root, ModelPairCache.VerifierFolder),
            DrafterDirectory = Path.Combine(root, ModelPairCache.DrafterFolder),
            CacheKey = key,
            Reused = reused,
        };
    }

    /// <summary>The cache key: SHA-256 of code version, seed, corpus and all settings.</summary>
    public static string ComputeCacheKey(DemoCorpus corpus, int seed, TransformerPairSettings settings)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(settings);
        var text = new StringBuilder()
            .Append(CodeVersion).Append('|').Append(seed).Append('|').Append(corpus.Hash).Append('|')
            .Append(JsonSerializer.Serialize(settings))
            .ToString();
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>The corpus as token streams per language: each training document preceded by end-of-text.</summary>
    public static IReadOnlyDictionary<string, int[]> TokenStreams(DemoCorpus corpus, ITokenizer tokenizer, int endOfText)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(tokenizer);
        return corpus.Languages.ToDictionary(
            l => l.Id,
            l => l.TrainingDocuments.SelectMany(d => tokenizer.Encode(d).Prepend(endOfText)).Append(endOfText).ToArray());
    }

    /// <summary>Loads the TorchSharp model of a folder written by this class (for fine-tuning).</summary>
    internal static TorchTransformer LoadModel(string folder)
    {
        var config = JsonSerializer.Deserialize<TinyTransformerConfig>(File.ReadAllText(Path.Combine(folder, ConfigFileName)))
            ?? throw new InvalidDataException($"'{folder}' has an empty {ConfigFileName}.");
        var model = new TorchTransformer(config, 0);
        model.load(Path.Combine(folder, WeightsFileName));
        model.eval();
        return model;
    }

    /// <summary>
    /// Writes a model folder: <c>model.onnx</c> (decoder-with-past, through <see cref="TinyTransformerBuilder"/>),
    /// <c>specfn-model.json</c>, <c>genai_config.json</c>, <c>tokenizer.json</c>, <c>tokenizer_config.json</c>, the network's
    /// shape and its TorchSharp weights.
    /// </summary>
    internal static void WriteModelFolder(TorchTransformer model, string name, BpeVocabulary vocabulary, string folder)
    {
        Directory.CreateDirectory(folder);
        var config = model.Config;
        var eot = vocabulary.EndOfTextId;
        var manifest = new ModelManifest
        {
            Name = name,
            Family = Family,
            VocabularySize = config.VocabularySize,
            Tokenizer = HuggingFaceTokenizer.KindName,
            TokenizerFile = "tokenizer.json",
            BosTokenId = eot,
            EosTokenIds = [eot],
            SpecialTokenIds = [eot],
            ContextLength = config.MaxPositions,
            Format = OnnxLanguageModel.DecoderWithPastFormat,
        };
        TinyTransformerBuilder.WriteModelFolder(folder, TinyTransformerBuilder.Build(model.ToTinyTransformer()), manifest);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), vocabulary.ToTokenizerJson());
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), vocabulary.ToTokenizerConfigJson(config.MaxPositions));
        File.WriteAllText(Path.Combine(folder, TinyTransformerBuilder.GenAiConfigFileName), TinyTransformerBuilder.GenAiConfig(config, bos: eot, eos: eot));
        File.WriteAllText(Path.Combine(folder, ConfigFileName), JsonSerializer.Serialize(config, IndentedJson));
        model.save(Path.Combine(folder, WeightsFileName));
    }

    /// <summary>
    /// Writes a fine-tuned version of the model in <paramref name="baseFolder"/>: a new <c>model.onnx</c> and weights; the base
    /// folder's manifest (byte for byte: same name and family), tokenizer files and genai_config.json.
    /// </summary>
    internal static void WriteFineTunedFolder(TorchTransformer model, string baseFolder, string folder)
    {
        Directory.CreateDirectory(folder);
        TinyTransformerBuilder.Build(model.ToTinyTransformer()).WriteToFile(Path.Combine(folder, "model.onnx"));
        foreach (var file in new[] { ModelManifest.FileName, "tokenizer.json", "tokenizer_config.json", "genai_config.json", ConfigFileName })
        {
            File.Copy(Path.Combine(baseFolder, file), Path.Combine(folder, file));
        }

        model.save(Path.Combine(folder, WeightsFileName));
    }

    private static TransformerModelPaths TrainAndWrite(
        string staging,
        DemoCorpus corpus,
        int seed,
        TransformerPairSettings settings,
        IProgress<DemoTrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var vocabulary = BpeTokenizerTrainer.Train(corpus, settings.Tokenizer, cancellationToken);
        var tokenizerPath = Path.Combine(staging, "tokenizer.json");
        File.WriteAllText(tokenizerPath, vocabulary.ToTokenizerJson());
        var streams = TokenStreams(corpus, HuggingFaceTokenizer.Load(tokenizerPath), vocabulary.EndOfTextId);
        var tokenizerTime = stopwatch.Elapsed;
        progress?.Report(new DemoTrainingProgress("tokenizer", 1, 1, 0, tokenizerTime));

        var verifierConfig = settings.Verifier with { VocabularySize = vocabulary.Size };
        var drafterConfig = settings.Drafter with { VocabularySize = vocabulary.Size };
        stopwatch.Restart();
        using var verifier = TransformerTrainer.Train("tf-verifier", verifierConfig, streams, settings.VerifierTraining, seed, progress: progress, cancellationToken: cancellationToken);
        var verifierTime = stopwatch.Elapsed;
        stopwatch.Restart();
        using var drafter = TransformerTrainer.Train("tf-drafter", drafterConfig, streams, settings.DrafterTraining, seed + 1, verifier, progress, cancellationToken);
        var drafterTime = stopwatch.Elapsed;

        WriteModelFolder(verifier, "tf-verifier", vocabulary, Path.Combine(staging, "verifier"));
        WriteModelFolder(drafter, "tf-drafter", vocabulary, Path.Combine(staging, "drafter"));
        File.Delete(tokenizerPath);
        return new TransformerModelPaths(
            Path.Combine(staging, "verifier"), Path.Combine(staging, "drafter"), string.Empty, false,
            tokenizerTime, verifierTime, drafterTime, verifier.ParameterCount, drafter.ParameterCount);
    }

    /// <summary>Files each model folder of a complete pair holds.</summary>
    private static readonly string[] PairFiles =
        ["model.onnx", ModelManifest.FileName, "genai_config.json", "tokenizer.json", "tokenizer_config.json", ConfigFileName, WeightsFileName];

    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    private sealed record CacheStamp(string Key, int Seed, string CodeVersion, string CorpusHash, long VerifierParameters, long DrafterParameters, DateTimeOffset CreatedUtc) : IModelPairStamp;
}
