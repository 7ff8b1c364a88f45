using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SpecFunctions.Core.Models;
using SpecFunctions.Demo.Pairs;

namespace SpecFunctions.Demo;

/// <summary>Where <see cref="DemoModels.EnsureAsync"/> put the demo model pair.</summary>
/// <param name="VerifierDirectory">Model folder of the verifier (<c>model.onnx</c>, <c>specfn-model.json</c>, <c>weights.bin</c>).</param>
/// <param name="DrafterDirectory">Model folder of the drafter.</param>
/// <param name="CacheKey">SHA-256 (hex) of corpus, settings, seed and <see cref="DemoModels.CodeVersion"/>.</param>
/// <param name="Reused">True when the folders were already there for this key and nothing was trained.</param>
/// <param name="VerifierTrainingTime">Wall time spent training the verifier (zero when reused).</param>
/// <param name="DrafterTrainingTime">Wall time spent training the drafter (zero when reused).</param>
public sealed record DemoModelPaths(
    string VerifierDirectory,
    string DrafterDirectory,
    string CacheKey,
    bool Reused,
    TimeSpan VerifierTrainingTime,
    TimeSpan DrafterTrainingTime);

/// <summary>
/// The built-in demo model pair: a verifier trained on every corpus language in balance and a small drafter distilled
/// from it mostly on English and Spanish, so that the drafter serves some languages much worse than others (the
/// disparity SpecFunctions measures). Built on first use, cached by content hash.
/// </summary>
public static class DemoModels
{
    /// <summary>Bump when a code change alters the trained weights or the exported files: it invalidates caches.</summary>
    public const string CodeVersion = "demo-2";

    /// <summary>Default root folder, relative to the working directory.</summary>
    public const string DefaultRoot = ".specfn/models/demo";

    /// <summary>Model family written to the manifests.</summary>
    public const string Family = "specfn-demo";

    /// <summary>Default seed.</summary>
    public const int DefaultSeed = 1;

    /// <summary>Line feed ends every corpus document, so it is the end-of-sequence token.</summary>
    public const int EndOfSequenceByte = 10;

    /// <summary>Context length written to the manifests: the graph is stateless, so any length works; this bounds memory.</summary>
    public const int ContextLength = 1 << 20;

    private const string CacheFileName = "specfn-demo-cache.json";

    /// <summary>Drafter's main languages (most of its training data).</summary>
    public static IReadOnlyList<string> DrafterMainLanguages { get; } = ["en", "es"];

    /// <summary>Verifier training: every language equally, 3000 steps of 64, context dropout 0.3.</summary>
    public static DemoTrainingOptions VerifierTraining { get; } = new() { Steps = 3000, BatchSize = 64, LearningRate = 0.002f, ContextDropout = 0.3 };

    /// <summary>
    /// Drafter training: distilled from the verifier (soft targets) on 78 % English, 20 % Spanish and 0.5 % each of the
    /// rest; 3000 steps of 64.
    /// </summary>
    public static DemoTrainingOptions DrafterTraining { get; } = new()
    {
        Steps = 3000,
        BatchSize = 64,
        LearningRate = 0.003f,
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

    /// <summary>
    /// Makes sure <c>rootDir/verifier</c> and <c>rootDir/drafter</c> hold the demo pair for <paramref name="seed"/>:
    /// reuses them when their cache key matches, else trains both (tens of seconds on 2 cores) and writes them.
    /// </summary>
    public static async Task<DemoModelPaths> EnsureAsync(
        string rootDir,
        int seed = DefaultSeed,
        IProgress<DemoTrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(rootDir);
        var root = Path.GetFullPath(rootDir);
        var corpus = DemoCorpus.Default;
        var key = ComputeCacheKey(corpus, seed);
        TimeSpan verifierTime = default, drafterTime = default;
        var (_, reused) = await ModelPairCache.EnsureAsync(root, CacheFileName, key, ["model.onnx", ModelManifest.FileName, DemoModelWeights.FileName], staging =>
        {
            var stopwatch = Stopwatch.StartNew();
            var verifier = DemoTrainer.Train(DemoModelConfig.Verifier, corpus, VerifierTraining, seed, progress, cancellationToken);
            verifierTime = stopwatch.Elapsed;
            stopwatch.Restart();
            var drafter = DemoTrainer.Train(DemoModelConfig.Drafter, corpus, DrafterTraining, seed, teacher: verifier, progress, cancellationToken);
            drafterTime = stopwatch.Elapsed;
            WriteModelFolder(verifier, Path.Combine(staging, ModelPairCache.VerifierFolder));
            WriteModelFolder(drafter, Path.Combine(staging, ModelPairCache.DrafterFolder));
            return new CacheStamp(key, seed, CodeVersion, corpus.Hash, DateTimeOffset.UtcNow);
        }, cancellationToken).ConfigureAwait(false);
        return new DemoModelPaths(Path.Combine(root, ModelPairCache.VerifierFolder), Path.Combine(root, ModelPairCache.DrafterFolder), key, reused, verifierTime, drafterTime);
    }

    /// <summary>
    /// Writes a model folder: <c>model.onnx</c>, <c>specfn-model.json</c> (family <c>specfn-demo</c>, format
    /// <c>stateless</c>) and <c>weights.bin</c> (to reload the weights, e.g. to fine-tune a drafter).
    /// </summary>
    public static void WriteModelFolder(DemoModelWeights weights, string folder)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        Directory.CreateDirectory(folder);
        using (var onnx = File.Create(Path.Combine(folder, "model.onnx")))
        {
            DemoOnnxExporter.Export(weights, onnx);
        }

        weights.Save(Path.Combine(folder, DemoModelWeights.FileName));
        File.WriteAllText(Path.Combine(folder, ModelManifest.FileName), JsonSerializer.Serialize(CreateManifest(weights.Config), IndentedJson));
    }

    /// <summary>Reads <c>weights.bin</c> from a demo model folder.</summary>
    /// <exception cref="FileNotFoundException">The folder is not a demo model folder.</exception>
    public static DemoModelWeights LoadWeights(string folder)
    {
        var path = Path.Combine(folder, DemoModelWeights.FileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{folder}' is not a demo model folder: it has no {DemoModelWeights.FileName}.", path);
        }

        return DemoModelWeights.Load(path);
    }

    /// <summary>The manifest of a demo model.</summary>
    public static ModelManifest CreateManifest(DemoModelConfig config) => new()
    {
        Name = config.Name,
        Family = Family,
        VocabularySize = DemoModelConfig.VocabularySize,
        Tokenizer = "byte",
        EosTokenIds = [EndOfSequenceByte],
        ContextLength = ContextLength,
        Format = "stateless",
        Window = config.Window,
    };

    /// <summary>The cache key for <paramref name="seed"/>: SHA-256 of code version, seed, corpus and all settings.</summary>
    public static string ComputeCacheKey(DemoCorpus corpus, int seed)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        var text = new StringBuilder()
            .Append(CodeVersion).Append('|').Append(seed).Append('|').Append(corpus.Hash).Append('|')
            .Append(JsonSerializer.Serialize(DemoModelConfig.Verifier)).Append('|')
            .Append(JsonSerializer.Serialize(VerifierTraining)).Append('|')
            .Append(JsonSerializer.Serialize(DemoModelConfig.Drafter)).Append('|')
            .Append(JsonSerializer.Serialize(DrafterTraining))
            .ToString();
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    private sealed record CacheStamp(string Key, int Seed, string CodeVersion, string CorpusHash, DateTimeOffset CreatedUtc) : IModelPairStamp;
}
