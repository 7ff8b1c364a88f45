using SpecFunctions.Core.Models;

namespace SpecFunctions.Onnx.Tests;

// A folder without specfn-model.json is described from genai_config.json or optimum's config.json; hand-made files in
// temporary folders (an empty model.onnx: Describe only checks that the graph file is there).
public sealed class ModelFolderTests : IDisposable
{
    private const string Gpt2GenAiConfig = """
        {
          "model": {
            "type": "gpt2", "pad_token_id": 17, "bos_token_id": 17, "eos_token_id": 17, "vocab_size": 32, "context_length": 64,
            "decoder": {
              "filename": "past.onnx", "num_key_value_heads": 4, "head_size": 8, "num_hidden_layers": 5,
              "inputs": { "past_names": "past_%d" }, "outputs": { "present_names": "present_%d" }
            }
          }
        }
        """;

    private const string LlamaGenAiConfig = """
        {
          "model": {
            "type": "llama", "bos_token_id": 0, "eos_token_id": [1, 2], "pad_token_id": 3, "vocab_size": 24, "context_length": 2048,
            "decoder": {
              "filename": "model.onnx",
              "inputs": { "input_ids": "input_ids", "attention_mask": "attention_mask", "position_ids": "position_ids",
                          "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value" },
              "outputs": { "logits": "logits", "present_key_names": "present.%d.key", "present_value_names": "present.%d.value" }
            }
          }
        }
        """;

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Describe_Gpt2GenAiConfig_DerivesCombinedCacheAndIds()
    {
        var folder = Folder("gpt2", ("genai_config.json", Gpt2GenAiConfig), ("past.onnx", string.Empty), ("tokenizer.json", TokenizerTests.TinyBpeJson));

        var description = ModelFolder.Describe(folder);

        var manifest = description.Manifest;
        Assert.True(description.Derived);
        Assert.Equal(["genai_config.json"], description.Sources);
        Assert.Equal("gpt2", manifest.Name);
        Assert.Equal("gpt2", manifest.Family);
        Assert.Equal(32, manifest.VocabularySize);
        Assert.Equal(64, manifest.ContextLength);
        Assert.Equal("past.onnx", manifest.ModelFile);
        Assert.Equal(OnnxLanguageModel.DecoderWithPastFormat, manifest.Format);
        Assert.Equal([17], manifest.EosTokenIds);
        Assert.Null(manifest.BosTokenId); // GPT-2's ByteLevel post-processor prepends nothing
        Assert.Empty(manifest.SpecialTokenIds); // the pad id is the end id
        Assert.Equal(KvCacheNames.CombinedLayout, manifest.Cache!.Layout);
        Assert.Equal("past_%d", manifest.Cache.Past);
        Assert.Equal("present_%d", manifest.Cache.Present);
        Assert.Equal("hf-tokenizer-json", description.Tokenizer.Kind);
        Assert.Equal([11, 15, 16], description.Tokenizer.Encode("hello world"));
        Assert.Equal(Path.Combine(folder, "tokenizer.json"), description.TokenizerPath);
    }

    [Fact]
    public void Describe_LlamaGenAiConfig_DerivesSeparateCacheEndIdsAndPrependedBos()
    {
        var folder = Folder("llama", ("genai_config.json", LlamaGenAiConfig), ("model.onnx", string.Empty), ("tokenizer.json", TokenizerWithBos));

        var manifest = ModelFolder.Describe(folder).Manifest;

        Assert.Equal("llama", manifest.Family);
        Assert.Equal(24, manifest.VocabularySize);
        Assert.Equal(2048, manifest.ContextLength);
        Assert.Equal([1, 2], manifest.EosTokenIds);
        Assert.Equal(0, manifest.BosTokenId); // the TemplateProcessing post-processor starts with <s> (id 0)
        Assert.Equal([3], manifest.SpecialTokenIds);
        Assert.Equal(KvCacheNames.SeparateLayout, manifest.Cache!.Layout);
        Assert.Equal("past_key_values.%d.key", manifest.Cache.PastKey);
        Assert.Equal("present.%d.value", manifest.Cache.PresentValue);
    }

    [Fact]
    public void Describe_OptimumConfig_TakesEndIdsFromGenerationConfigAndTheMergedDecoder()
    {
        var folder = Folder(
            "qwen",
            ("config.json", """{ "model_type": "qwen2", "vocab_size": 40, "max_position_embeddings": 128, "eos_token_id": 5, "bos_token_id": 4 }"""),
            ("generation_config.json", """{ "eos_token_id": [6, 7], "pad_token_id": 8 }"""),
            ("decoder_model_merged.onnx", string.Empty),
            ("tokenizer.json", TokenizerTests.TinyBpeJson));

        var description = ModelFolder.Describe(folder);

        Assert.Equal(["config.json", "generation_config.json"], description.Sources);
        Assert.Equal("qwen2", description.Manifest.Family);
        Assert.Equal(40, description.Manifest.VocabularySize);
        Assert.Equal(128, description.Manifest.ContextLength);
        Assert.Equal([6, 7], description.Manifest.EosTokenIds);
        Assert.Equal([8], description.Manifest.SpecialTokenIds);
        Assert.Equal("decoder_model_merged.onnx", description.Manifest.ModelFile);
        Assert.Null(description.Manifest.Cache); // optimum's names: the default
    }

    [Fact]
    public void Describe_ManifestPresent_WinsOverGenAiConfig()
    {
        var manifest = """
            { "name": "mine", "family": "specfn-demo", "vocabularySize": 300, "tokenizer": "byte", "contextLength": 99, "format": "decoder-with-past", "eosTokenIds": [10] }
            """;
        var folder = Folder("both", ("specfn-model.json", manifest), ("genai_config.json", Gpt2GenAiConfig), ("model.onnx", string.Empty));

        var description = ModelFolder.Describe(folder);

        Assert.False(description.Derived);
        Assert.Equal(["specfn-model.json"], description.Sources);
        Assert.Equal("mine", description.Manifest.Name);
        Assert.Equal(300, description.Manifest.VocabularySize);
        Assert.Equal(99, description.Manifest.ContextLength);
        Assert.Equal("byte", description.Tokenizer.Kind);
    }

    [Fact]
    public void Describe_TokenizerFileGiven_UsesItInsteadOfTheFolders()
    {
        // The folder's tokenizer has more ids (18) than the graph (vocab_size 18 would fit, 16 does not): refused alone,
        // accepted with a smaller tokenizer from elsewhere.
        var config = Gpt2GenAiConfig.Replace("\"vocab_size\": 32", "\"vocab_size\": 16", StringComparison.Ordinal).Replace("17", "15", StringComparison.Ordinal);
        var folder = Folder("big-tokenizer", ("genai_config.json", config), ("past.onnx", string.Empty), ("tokenizer.json", TokenizerTests.TinyBpeJson));
        var small = Folder("small-tokenizer", ("tokenizer.json", SmallTokenizer));

        var refused = Assert.Throws<ModelLoadException>(() => ModelFolder.Describe(folder));
        var description = ModelFolder.Describe(folder, Path.Combine(small, "tokenizer.json"));

        Assert.Contains("vocabulary mismatch: the tokenizer has ids up to 17 but the model's vocabulary (genai_config.json) is 16", refused.Message, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(small, "tokenizer.json"), description.TokenizerPath);
        Assert.Equal([3, 4], description.Tokenizer.Encode("ab"));
    }

    [Theory]
    [InlineData("unknown-type", "unsupported model type 'whisper'")]
    [InlineData("missing-tokenizer", "missing tokenizer: the folder has no tokenizer.json")]
    [InlineData("vocabulary-mismatch", "vocabulary mismatch: the tokenizer has ids up to 17 but the model's vocabulary (genai_config.json) is 12")]
    [InlineData("renamed-input", "input 'input_ids' is renamed to 'tokens'")]
    [InlineData("no-configuration", "not a model folder: no specfn-model.json, genai_config.json or config.json")]
    [InlineData("missing-graph", "model file not found")]
    [InlineData("bad-pattern", "cache name pattern 'past' must hold %d")]
    [InlineData("optimum-unknown-type", "unsupported model_type 't5'")]
    public void Describe_BrokenOrUnsupportedFolder_RefusesWithTheReason(string kind, string reason)
    {
        var tokenizer = ("tokenizer.json", TokenizerTests.TinyBpeJson);
        var graph = ("past.onnx", string.Empty);
        var folder = kind switch
        {
            "unknown-type" => Folder(kind, ("genai_config.json", Gpt2GenAiConfig.Replace("\"gpt2\"", "\"whisper\"", StringComparison.Ordinal)), graph, tokenizer),
            "missing-tokenizer" => Folder(kind, ("genai_config.json", Gpt2GenAiConfig), graph),
            "vocabulary-mismatch" => Folder(kind, ("genai_config.json", Gpt2GenAiConfig.Replace("\"vocab_size\": 32", "\"vocab_size\": 12", StringComparison.Ordinal)), graph, tokenizer),
            "renamed-input" => Folder(kind, ("genai_config.json", Gpt2GenAiConfig.Replace("\"past_names\"", "\"input_ids\": \"tokens\", \"past_names\"", StringComparison.Ordinal)), graph, tokenizer),
            "no-configuration" => Folder(kind, graph, tokenizer),
            "missing-graph" => Folder(kind, ("genai_config.json", Gpt2GenAiConfig), tokenizer),
            "bad-pattern" => Folder(kind, ("genai_config.json", Gpt2GenAiConfig.Replace("\"past_%d\"", "\"past\"", StringComparison.Ordinal)), graph, tokenizer),
            _ => Folder(kind, ("config.json", """{ "model_type": "t5", "vocab_size": 32, "n_positions": 64 }"""), ("model.onnx", string.Empty), tokenizer),
        };

        var error = Assert.Throws<ModelLoadException>(() => ModelFolder.Describe(folder));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.StartsWith(folder, error.Path, StringComparison.Ordinal);
    }

    // TinyBpeJson's vocabulary with a Llama-style post-processor that puts <s> (id 0 here: 'h') before every text.
    private static string TokenizerWithBos => TokenizerTests.TinyBpeJson.Replace(
        "\"decoder\": { \"type\": \"ByteLevel\" },",
        """
        "decoder": { "type": "ByteLevel" },
        "post_processor": { "type": "TemplateProcessing",
          "single": [ { "SpecialToken": { "id": "<s>", "type_id": 0 } }, { "Sequence": { "id": "A", "type_id": 0 } } ],
          "special_tokens": { "<s>": { "id": "<s>", "ids": [0], "tokens": ["<s>"] } } },
        """,
        StringComparison.Ordinal);

    private const string SmallTokenizer = """
        {
          "version": "1.0", "added_tokens": [], "normalizer": null,
          "pre_tokenizer": { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true },
          "decoder": { "type": "ByteLevel" },
          "model": { "type": "BPE", "vocab": { "x": 0, "y": 1, "z": 2, "a": 3, "b": 4 }, "merges": [] }
        }
        """;

    private string Folder(string name, params (string File, string Content)[] files)
    {
        var folder = _temp.Sub(name);
        Directory.CreateDirectory(folder);
        foreach (var (file, content) in files)
        {
            File.WriteAllText(Path.Combine(folder, file), content);
        }

        return folder;
    }
}
