using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SpecFunctions.Demo;

/// <summary>Settings of <see cref="BpeTokenizerTrainer"/>.</summary>
public sealed record BpeTrainingOptions
{
    /// <summary>Size of the vocabulary: 256 byte tokens, the learned merges and the special tokens. Default 2048.</summary>
    public int VocabularySize { get; init; } = 2048;

    /// <summary>A pair must occur at least this often to be merged; training stops early when no pair does. Default 2.</summary>
    public int MinPairCount { get; init; } = 2;

    /// <summary>
    /// Weight of each language's training text (how many times its documents are counted). The mix decides how well
    /// each script compresses, as in real tokenizers. Languages not named get weight 1. Default: every language once.
    /// </summary>
    public IReadOnlyDictionary<string, int>? LanguageWeights { get; init; }
}

/// <summary>A trained byte-level BPE vocabulary.</summary>
/// <param name="Merges">Learned merges in rank order, each a pair of tokens in GPT-2's byte-to-character alphabet.</param>
/// <param name="Vocabulary">Token (byte-to-character alphabet) → id: the 256 bytes are ids 0..255, merges follow in rank order.</param>
/// <param name="SpecialTokens">Special tokens after the merges, e.g. <c>&lt;|endoftext|&gt;</c>.</param>
public sealed record BpeVocabulary(
    IReadOnlyList<(string Left, string Right)> Merges,
    IReadOnlyDictionary<string, int> Vocabulary,
    IReadOnlyDictionary<string, int> SpecialTokens)
{
    /// <summary>The end-of-text token, used as beginning and end of every document.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>Ids in use: tokens plus special tokens.</summary>
    public int Size => Vocabulary.Count + SpecialTokens.Count;

    /// <summary>Id of <see cref="EndOfText"/>.</summary>
    public int EndOfTextId => SpecialTokens[EndOfText];

    /// <summary>
    /// The Hugging Face <c>tokenizer.json</c> of this vocabulary (byte-level BPE, GPT-2 pre-tokenisation, no normaliser): what
    /// <c>transformers</c>, ONNX Runtime GenAI and Microsoft.ML.Tokenizers read.
    /// </summary>
    public string ToTokenizerJson()
    {
        var vocab = new JsonObject();
        foreach (var (token, id) in Vocabulary.OrderBy(e => e.Value))
        {
            vocab[token] = id;
        }

        var merges = new JsonArray();
        foreach (var (left, right) in Merges)
        {
            merges.Add(new JsonArray(left, right));
        }

        var added = new JsonArray();
        foreach (var (content, id) in SpecialTokens.OrderBy(e => e.Value))
        {
            added.Add(new JsonObject
            {
                ["id"] = id,
                ["content"] = content,
                ["single_word"] = false,
                ["lstrip"] = false,
                ["rstrip"] = false,
                ["normalized"] = false,
                ["special"] = true,
            });
        }

        JsonObject ByteLevel(bool addPrefixSpace, bool trimOffsets) => new()
        {
            ["type"] = "ByteLevel",
            ["add_prefix_space"] = addPrefixSpace,
            ["trim_offsets"] = trimOffsets,
            ["use_regex"] = true,
        };

        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = ByteLevel(false, true),
            ["post_processor"] = ByteLevel(true, false),
            ["decoder"] = ByteLevel(true, true),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = merges,
            },
        };
        return root.ToJsonString(TokenizerJsonOptions);
    }

    /// <summary>
    /// The <c>tokenizer_config.json</c> beside <c>tokenizer.json</c> (GPT-2 style: end-of-text as bos, eos and unk; no
    /// bos added by the tokenizer, the caller adds it).
    /// </summary>
    public string ToTokenizerConfigJson(int modelMaxLength) => new JsonObject
    {
        ["tokenizer_class"] = "GPT2Tokenizer",
        ["add_bos_token"] = false,
        ["add_prefix_space"] = false,
        ["bos_token"] = EndOfText,
        ["eos_token"] = EndOfText,
        ["unk_token"] = EndOfText,
        ["model_max_length"] = modelMaxLength,
        ["clean_up_tokenization_spaces"] = false,
    }.ToJsonString(TokenizerJsonOptions);

    private static readonly JsonSerializerOptions TokenizerJsonOptions = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}

/// <summary>
/// Trains a byte-level BPE tokenizer (the GPT-2 / RoBERTa / Qwen scheme) on the demo corpus: text is split by GPT-2's
/// pre-tokenisation pattern, each piece becomes its UTF-8 bytes, and the most frequent adjacent pair is merged until the
/// vocabulary is full. Deterministic: ties go to the pair whose tokens sort first (ordinal).
/// </summary>
public static class BpeTokenizerTrainer
{
    /// <summary>GPT-2's pre-tokenisation pattern (what the <c>ByteLevel</c> pre-tokenizer with <c>use_regex</c> applies).</summary>
    public const string PreTokenizerPattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly Regex PreTokenizer = new(PreTokenizerPattern, RegexOptions.Compiled);

    /// <summary>GPT-2's map from bytes to printable characters (byte b ↦ <c>ByteToChar[b]</c>).</summary>
    public static IReadOnlyList<char> ByteToChar { get; } = BuildByteToChar();

    /// <summary>Trains on every language's training documents of <paramref name="corpus"/>.</summary>
    public static BpeVocabulary Train(DemoCorpus corpus, BpeTrainingOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        options ??= new BpeTrainingOptions();
        var texts = new List<(string Text, int Weight)>();
        foreach (var language in corpus.Languages)
        {
            var weight = options.LanguageWeights is not null && options.LanguageWeights.TryGetValue(language.Id, out var w) ? w : 1;
            texts.AddRange(language.TrainingDocuments.Select(d => (d, weight)));
        }

        return Train(texts, options, cancellationToken);
    }

    /// <summary>Trains on <paramref name="texts"/>, each counted <c>Weight</c> times.</summary>
    public static BpeVocabulary Train(IEnumerable<(string Text, int Weight)> texts, BpeTrainingOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(options);
        const int specialCount = 1;
        var mergeBudget = options.VocabularySize - 256 - specialCount;
        if (mergeBudget < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.VocabularySize, $"The vocabulary needs room for 256 bytes and {specialCount} special token.");
        }

        // Distinct pre-tokens with their counts; each as a list of token ids (0..255 = bytes).
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (text, weight) in texts)
        {
            if (weight <= 0)
            {
                continue;
            }

            foreach (Match match in PreTokenizer.Matches(text))
            {
                counts[match.Value] = counts.GetValueOrDefault(match.Value) + weight;
            }
        }

        var words = counts.OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => (Symbols: Encoding.UTF8.GetBytes(e.Key).Select(b => (int)b).ToList(), Count: e.Value))
            .ToList();
        var tokens = new List<string>(Enumerable.Range(0, 256).Select(b => ByteToChar[b].ToString()));
        var merges = new List<(string, string)>();
        var pairCounts = new Dictionary<(int, int), long>();
        while (merges.Count < mergeBudget)
        {
            cancellationToken.ThrowIfCancellationRequested();
            pairCounts.Clear();
            foreach (var (symbols, count) in words)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    var pair = (symbols[i], symbols[i + 1]);
                    pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + count;
                }
            }

            (int Left, int Right) best = (-1, -1);
            long bestCount = 0;
            foreach (var (pair, count) in pairCounts)
            {
                if (count > bestCount || (count == bestCount && Compare(tokens, pair, best) < 0))
                {
                    best = pair;
                    bestCount = count;
                }
            }

            if (bestCount < Math.Max(1, options.MinPairCount))
            {
                break;
            }

            var merged = tokens.Count;
            tokens.Add(tokens[best.Left] + tokens[best.Right]);
            merges.Add((tokens[best.Left], tokens[best.Right]));
            foreach (var (symbols, _) in words)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] == best.Left && symbols[i + 1] == best.Right)
                    {
                        symbols[i] = merged;
                        symbols.RemoveAt(i + 1);
                    }
                }
            }
        }

        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var id = 0; id < tokens.Count; id++)
        {
            // Two merges can spell the same string (e.g. "ab"+"c" and "a"+"bc"); the first id wins, as in Hugging Face.
            vocabulary.TryAdd(tokens[id], id);
        }

        var special = new Dictionary<string, int>(StringComparer.Ordinal) { [BpeVocabulary.EndOfText] = tokens.Count };
        return new BpeVocabulary(merges, vocabulary, special);
    }

    /// <summary>SHA-256 (hex) of the tokenizer.json text: identifies a trained vocabulary in cache keys.</summary>
    public static string Hash(BpeVocabulary vocabulary) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(vocabulary.ToTokenizerJson())));

    private static int Compare(List<string> tokens, (int Left, int Right) a, (int Left, int Right) b)
    {
        if (b.Left < 0)
        {
            return -1;
        }

        var left = string.CompareOrdinal(tokens[a.Left], tokens[b.Left]);
        return left != 0 ? left : string.CompareOrdinal(tokens[a.Right], tokens[b.Right]);
    }

    private static char[] BuildByteToChar()
    {
        // Printable Latin-1 bytes map to themselves; the rest to U+0100 onwards, in byte order (GPT-2's bytes_to_unicode).
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }

        return map;
    }
}
