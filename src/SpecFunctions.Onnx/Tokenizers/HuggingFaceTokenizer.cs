using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace SpecFunctions.Onnx.Tokenizers;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> of the BPE family, run by <c>Microsoft.ML.Tokenizers</c>' <see cref="BpeTokenizer"/>.
/// Supported: byte-level BPE (GPT-2, Qwen2, Llama 3, Phi-3.5-mini's successors: <c>ByteLevel</c> pre-tokenizer, alone or after a
/// <c>Split</c> regex), word-level BPE with a <c>Whitespace</c>/<c>WhitespaceSplit</c> pre-tokenizer (normaliser none or NFC),
/// and SentencePiece-style BPE with <c>byte_fallback</c> and the <c>Prepend</c>/<c>Replace("▁")</c> normaliser (Llama 2,
/// Mistral, TinyLlama: <see cref="SentencePieceBpe"/>).
/// Not supported (clear error): <c>Metaspace</c> pre-tokenizers, WordPiece, Unigram.
/// </summary>
public sealed class HuggingFaceTokenizer : ITokenizer
{
    public const string KindName = "hf-tokenizer-json";

    // GPT-2's pre-tokenisation pattern, used by the ByteLevel pre-tokenizer when use_regex is true.
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly Tokenizer? _tokenizer;
    private readonly SentencePieceBpe? _sentencePiece;
    private readonly HashSet<int> _specialIds;
    private readonly bool _addPrefixSpace;

    private HuggingFaceTokenizer(Tokenizer? tokenizer, SentencePieceBpe? sentencePiece, HashSet<int> specialIds, bool addPrefixSpace, string identity, int vocabularySize)
    {
        _tokenizer = tokenizer;
        _sentencePiece = sentencePiece;
        _specialIds = specialIds;
        _addPrefixSpace = addPrefixSpace;
        Identity = identity;
        VocabularySize = vocabularySize;
    }

    public string Kind => KindName;

    public string Identity { get; }

    /// <summary>The scheme, for people: <c>byte-level BPE</c>, <c>SentencePiece BPE (byte fallback)</c> or <c>BPE</c>.</summary>
    public string Scheme { get; private init; } = "BPE";

    /// <summary>Largest id in the vocabulary or added tokens, plus one.</summary>
    public int VocabularySize { get; }

    /// <summary>Loads <paramref name="path"/>; throws <see cref="ModelLoadException"/> naming the file and the unsupported or missing part.</summary>
    public static HuggingFaceTokenizer Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelLoadException(path, "tokenizer file not found");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(path, $"tokenizer file is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            try
            {
                return FromJson(document.RootElement);
            }
            catch (NotSupportedException ex)
            {
                throw new ModelLoadException(path, $"unsupported tokenizer.json: {ex.Message}", ex);
            }
            catch (Exception ex) when (ex is InvalidOperationException or KeyNotFoundException or FormatException or ArgumentException)
            {
                throw new ModelLoadException(path, $"malformed tokenizer.json: {ex.Message}", ex);
            }
        }
    }

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_addPrefixSpace && text.Length > 0 && text[0] != ' ')
        {
            text = " " + text;
        }

        return _sentencePiece is not null ? _sentencePiece.Encode(text) : [.. _tokenizer!.EncodeToIds(text)];
    }

    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var kept = ids.Where(id => !_specialIds.Contains(id));
        return _sentencePiece is not null ? _sentencePiece.Decode(kept) : _tokenizer!.Decode(kept);
    }

    private static HuggingFaceTokenizer FromJson(JsonElement root)
    {
        var model = root.GetProperty("model");
        var type = model.TryGetProperty("type", out var typeElement) ? typeElement.GetString() : "BPE";
        if (type != "BPE")
        {
            throw new NotSupportedException($"model type '{type}' (only BPE is supported)");
        }

        var byteFallback = model.TryGetProperty("byte_fallback", out var byteFallbackElement) && byteFallbackElement.ValueKind == JsonValueKind.True;
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
        {
            vocabulary[entry.Name] = entry.Value.GetInt32();
        }

        var merges = new List<string>();
        if (model.TryGetProperty("merges", out var mergesElement))
        {
            foreach (var merge in mergesElement.EnumerateArray())
            {
                // Older files store "a b", newer ones ["a", "b"].
                merges.Add(merge.ValueKind == JsonValueKind.Array
                    ? $"{merge[0].GetString()} {merge[1].GetString()}"
                    : merge.GetString() ?? throw new FormatException("null merge"));
            }
        }

        var specialTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        var specialIds = new HashSet<int>();
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in added.EnumerateArray())
            {
                var id = token.GetProperty("id").GetInt32();
                var content = token.GetProperty("content").GetString() ?? throw new FormatException("added token without content");
                specialTokens[content] = id;
                if (token.TryGetProperty("special", out var special) && special.ValueKind == JsonValueKind.True)
                {
                    specialIds.Add(id);
                }
            }
        }

        var vocabularySize = Math.Max(vocabulary.Count == 0 ? 0 : vocabulary.Values.Max() + 1, specialTokens.Count == 0 ? 0 : specialTokens.Values.Max() + 1);
        if (byteFallback)
        {
            var sentencePiece = SentencePieceBpe.FromJson(root, vocabulary, merges, specialTokens);
            return new HuggingFaceTokenizer(null, sentencePiece, specialIds, false, ComputeIdentity(root), vocabularySize)
            {
                Scheme = "SentencePiece BPE (byte fallback)",
            };
        }

        var (preTokenizer, byteLevel, addPrefixSpace) = ReadPreTokenizer(root, specialTokens);
        if (root.TryGetProperty("decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object
            && decoder.TryGetProperty("type", out var decoderType) && decoderType.GetString() == "ByteLevel")
        {
            byteLevel = true;
        }

        var options = new BpeOptions(vocabulary)
        {
            Merges = merges,
            SpecialTokens = specialTokens.Count > 0 ? specialTokens : null,
            PreTokenizer = preTokenizer,
            Normalizer = ReadNormalizer(root),
            ByteLevel = byteLevel,
            UnknownToken = OptionalString(model, "unk_token"),
            ContinuingSubwordPrefix = OptionalString(model, "continuing_subword_prefix"),
            EndOfWordSuffix = OptionalString(model, "end_of_word_suffix"),
            FuseUnknownTokens = model.TryGetProperty("fuse_unk", out var fuse) && fuse.ValueKind == JsonValueKind.True,
        };

        return new HuggingFaceTokenizer(BpeTokenizer.Create(options), null, specialIds, addPrefixSpace, ComputeIdentity(root), vocabularySize)
        {
            Scheme = byteLevel ? "byte-level BPE" : "BPE",
        };
    }

    private static (PreTokenizer? PreTokenizer, bool ByteLevel, bool AddPrefixSpace) ReadPreTokenizer(JsonElement root, Dictionary<string, int> specialTokens)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return (null, false, false);
        }

        var steps = element.GetProperty("type").GetString() == "Sequence"
            ? element.GetProperty("pretokenizers").EnumerateArray().ToList()
            : [element];

        string? pattern = null;
        var byteLevel = false;
        var addPrefixSpace = false;
        PreTokenizer? wordSplitter = null;
        var special = specialTokens.Count > 0 ? specialTokens : null;
        foreach (var step in steps)
        {
            switch (step.GetProperty("type").GetString())
            {
                case "Split" when pattern is null:
                    var patternElement = step.GetProperty("pattern");
                    pattern = patternElement.TryGetProperty("Regex", out var regex)
                        ? regex.GetString()
                        : Regex.Escape(patternElement.GetProperty("String").GetString() ?? string.Empty);
                    if (step.TryGetProperty("invert", out var invert) && invert.ValueKind == JsonValueKind.True)
                    {
                        throw new NotSupportedException("inverted Split pre-tokenizer");
                    }

                    break;
                case "ByteLevel":
                    byteLevel = true;
                    addPrefixSpace = step.TryGetProperty("add_prefix_space", out var prefix) && prefix.ValueKind == JsonValueKind.True;
                    var useRegex = !step.TryGetProperty("use_regex", out var useRegexElement) || useRegexElement.ValueKind != JsonValueKind.False;
                    if (useRegex && pattern is null)
                    {
                        pattern = Gpt2Pattern;
                    }

                    break;
                case "Whitespace":
                    wordSplitter = PreTokenizer.CreateWordOrNonWord(special);
                    break;
                case "WhitespaceSplit":
                    wordSplitter = PreTokenizer.CreateWhiteSpace(special);
                    break;
                case var other:
                    throw new NotSupportedException($"pre-tokenizer '{other}'");
            }
        }

        PreTokenizer? preTokenizer = pattern is not null
            ? new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), special)
            : wordSplitter;
        return (preTokenizer, byteLevel, addPrefixSpace);
    }

    private static Normalizer? ReadNormalizer(JsonElement root)
    {
        if (!root.TryGetProperty("normalizer", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return element.GetProperty("type").GetString() switch
        {
            "NFC" => new NfcNormalizer(),
            var other => throw new NotSupportedException($"normalizer '{other}'"),
        };
    }

    private static string? OptionalString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    // Whitespace in the file must not change the identity, only the parts that decide the ids.
    private static string ComputeIdentity(JsonElement root)
    {
        var builder = new StringBuilder();
        foreach (var part in new[] { "model", "added_tokens", "normalizer", "pre_tokenizer" })
        {
            builder.Append(part).Append('=');
            if (root.TryGetProperty(part, out var element))
            {
                builder.Append(JsonSerializer.Serialize(element));
            }

            builder.Append('\n');
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(builder.ToString()));
        return $"{KindName}:sha256:{Convert.ToHexStringLower(hash)}";
    }

    private sealed class NfcNormalizer : Normalizer
    {
        public override string Normalize(string original) => original.Normalize(NormalizationForm.FormC);

        public override string Normalize(ReadOnlySpan<char> original) => original.ToString().Normalize(NormalizationForm.FormC);
    }
}
