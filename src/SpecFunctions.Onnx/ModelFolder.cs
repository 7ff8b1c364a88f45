using System.Text.Json;
using SpecFunctions.Core.Models;
using SpecFunctions.Onnx.Tokenizers;

namespace SpecFunctions.Onnx;

/// <summary>What a model folder holds, as <see cref="ModelFolder.Describe"/> derived it.</summary>
public sealed record ModelFolderDescription
{
    /// <summary>The folder's full path.</summary>
    public required string Folder { get; init; }

    /// <summary>The manifest: read from <c>specfn-model.json</c>, or derived from the export's configuration files.</summary>
    public required ModelManifest Manifest { get; init; }

    /// <summary>
    /// The configuration files the manifest comes from, relative to the folder: <c>specfn-model.json</c>, or
    /// <c>genai_config.json</c>, or <c>config.json</c> (+ <c>generation_config.json</c>). They are part of the model's identity.
    /// </summary>
    public required IReadOnlyList<string> Sources { get; init; }

    /// <summary>The tokenizer the model runs with (the folder's, or the one <see cref="OnnxModelOptions.TokenizerFile"/> names).</summary>
    public required ITokenizer Tokenizer { get; init; }

    /// <summary>Full path of the tokenizer file, null for the byte tokenizer.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>True when the manifest was derived (no <c>specfn-model.json</c>).</summary>
    public bool Derived => Sources[0] != ModelManifest.FileName;
}

/// <summary>
/// Reads a model folder as it is. <c>specfn-model.json</c>, where present, wins; without it the manifest is derived from
/// ONNX Runtime GenAI's <c>genai_config.json</c> (model builder exports: types <c>decoder</c>, <c>llama</c>, <c>mistral</c>,
/// <c>qwen2</c>, <c>phi3</c>, <c>gemma</c>, <c>gpt2</c>) or from optimum's <c>config.json</c> + <c>generation_config.json</c>,
/// with the folder's <c>tokenizer.json</c>.
/// </summary>
public static class ModelFolder
{
    public const string GenAiConfigFileName = "genai_config.json";
    public const string OptimumConfigFileName = "config.json";
    public const string GenerationConfigFileName = "generation_config.json";
    public const string TokenizerFileName = "tokenizer.json";

    /// <summary>The <c>genai_config.json</c> model types (and optimum <c>model_type</c>s) whose decoder graphs are supported.</summary>
    public static IReadOnlyList<string> SupportedTypes { get; } = ["decoder", "llama", "mistral", "qwen2", "phi3", "gemma", "gpt2"];

    // ONNX files optimum writes for a decoder, in order of preference (the merged one has both branches).
    private static readonly string[] OptimumModelFiles = ["model.onnx", "decoder_model_merged.onnx"];

    /// <summary>True when <paramref name="folder"/> holds a manifest or a configuration a manifest can be derived from.</summary>
    public static bool IsModelFolder(string folder) =>
        File.Exists(Path.Combine(folder, ModelManifest.FileName))
        || File.Exists(Path.Combine(folder, GenAiConfigFileName))
        || File.Exists(Path.Combine(folder, OptimumConfigFileName));

    /// <summary>
    /// Describes <paramref name="folder"/>: its manifest (read or derived), the model file's presence and its tokenizer.
    /// Throws <see cref="ModelLoadException"/> naming the file and the reason a folder is refused (no configuration, an
    /// unknown model type, a missing tokenizer, a tokenizer with more ids than the graph's vocabulary, renamed inputs…).
    /// </summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="tokenizerFile">A <c>tokenizer.json</c> to use instead of the folder's (null: the folder's).</param>
    public static ModelFolderDescription Describe(string folder, string? tokenizerFile = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        var full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
        {
            throw new ModelLoadException(full, "model folder not found");
        }

        ModelManifest manifest;
        List<string> sources;
        if (File.Exists(Path.Combine(full, ModelManifest.FileName)))
        {
            manifest = OnnxLanguageModel.ReadManifest(full);
            sources = [ModelManifest.FileName];
        }
        else if (File.Exists(Path.Combine(full, GenAiConfigFileName)))
        {
            manifest = FromGenAiConfig(full);
            sources = [GenAiConfigFileName];
        }
        else if (File.Exists(Path.Combine(full, OptimumConfigFileName)))
        {
            (manifest, sources) = FromOptimumConfig(full);
        }
        else
        {
            throw new ModelLoadException(full, $"not a model folder: no {ModelManifest.FileName}, {GenAiConfigFileName} or {OptimumConfigFileName}");
        }

        var modelPath = OnnxLanguageModel.ResolveInFolder(full, manifest.ModelFile, "modelFile");
        if (!File.Exists(modelPath))
        {
            throw new ModelLoadException(modelPath, "model file not found");
        }

        var source = Path.Combine(full, sources[0]);
        ITokenizer tokenizer;
        string? tokenizerPath = null;
        if (tokenizerFile is not null)
        {
            tokenizerPath = Path.GetFullPath(tokenizerFile);
            if (manifest.Tokenizer != HuggingFaceTokenizer.KindName)
            {
                throw new ModelLoadException(source, $"a tokenizer file was given but the model's tokenizer is '{manifest.Tokenizer}', not '{HuggingFaceTokenizer.KindName}'");
            }

            tokenizer = TokenizerLoader.LoadFile(tokenizerPath, manifest.VocabularySize, source);
        }
        else
        {
            if (manifest.Tokenizer == HuggingFaceTokenizer.KindName)
            {
                tokenizerPath = OnnxLanguageModel.ResolveInFolder(full, manifest.TokenizerFile ?? TokenizerFileName, "tokenizerFile");
            }

            tokenizer = TokenizerLoader.Load(manifest, full, source);
        }

        return new ModelFolderDescription { Folder = full, Manifest = manifest, Sources = sources, Tokenizer = tokenizer, TokenizerPath = tokenizerPath };
    }

    private static ModelManifest FromGenAiConfig(string folder)
    {
        var path = Path.Combine(folder, GenAiConfigFileName);
        using var document = ParseJson(path);
        try
        {
            var model = document.RootElement.GetProperty("model");
            var type = model.GetProperty("type").GetString() ?? string.Empty;
            if (!SupportedTypes.Contains(type))
            {
                throw new ModelLoadException(path, $"unsupported model type '{type}' (supported: {string.Join(", ", SupportedTypes)}; encoder-decoder, vision and audio models are not)");
            }

            if (!model.TryGetProperty("decoder", out var decoder) || decoder.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException(path, "no 'model.decoder' section");
            }

            return Derive(
                folder,
                path,
                type,
                model.GetProperty("vocab_size").GetInt32(),
                model.GetProperty("context_length").GetInt32(),
                decoder.TryGetProperty("filename", out var file) ? file.GetString() ?? "model.onnx" : "model.onnx",
                GenAiCacheNames(decoder, path),
                Ids(model, "eos_token_id"),
                Ids(model, "pad_token_id"));
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new ModelLoadException(path, $"invalid {GenAiConfigFileName}: {ex.Message}", ex);
        }
    }

    private static (ModelManifest Manifest, List<string> Sources) FromOptimumConfig(string folder)
    {
        var path = Path.Combine(folder, OptimumConfigFileName);
        using var document = ParseJson(path);
        try
        {
            var config = document.RootElement;
            var type = config.TryGetProperty("model_type", out var typeElement) ? typeElement.GetString() ?? string.Empty : string.Empty;
            if (!SupportedTypes.Contains(type))
            {
                throw new ModelLoadException(path, $"unsupported model_type '{type}' (supported: {string.Join(", ", SupportedTypes)})");
            }

            var modelFile = OptimumModelFiles.FirstOrDefault(f => File.Exists(Path.Combine(folder, f)))
                ?? throw new ModelLoadException(folder, $"no ONNX decoder ({string.Join(" or ", OptimumModelFiles)})");
            var context = new[] { "max_position_embeddings", "n_positions", "n_ctx" }
                .Select(name => config.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : 0)
                .FirstOrDefault(v => v > 0);
            if (context == 0)
            {
                throw new ModelLoadException(path, "no context length (max_position_embeddings or n_positions)");
            }

            List<string> sources = [OptimumConfigFileName];
            var eos = Ids(config, "eos_token_id");
            var pad = Ids(config, "pad_token_id");
            var generationPath = Path.Combine(folder, GenerationConfigFileName);
            if (File.Exists(generationPath))
            {
                // generation_config.json says how the model generates: its end ids win over config.json's.
                using var generation = ParseJson(generationPath);
                var generationEos = Ids(generation.RootElement, "eos_token_id");
                eos = generationEos.Length > 0 ? generationEos : eos;
                pad = pad.Length > 0 ? pad : Ids(generation.RootElement, "pad_token_id");
                sources.Add(GenerationConfigFileName);
            }

            var manifest = Derive(folder, path, type, config.GetProperty("vocab_size").GetInt32(), context, modelFile, null, eos, pad);
            return (manifest, sources);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new ModelLoadException(path, $"invalid {OptimumConfigFileName}: {ex.Message}", ex);
        }
    }

    private static ModelManifest Derive(string folder, string source, string family, int vocabularySize, int contextLength, string modelFile, KvCacheNames? cache, int[] eos, int[] pad)
    {
        if (vocabularySize <= 0 || contextLength <= 0)
        {
            throw new ModelLoadException(source, $"vocab_size and the context length must be > 0, got {vocabularySize} and {contextLength}");
        }

        var tokenizerPath = Path.Combine(folder, TokenizerFileName);
        if (!File.Exists(tokenizerPath))
        {
            throw new ModelLoadException(tokenizerPath, "missing tokenizer: the folder has no tokenizer.json (export it with the model, e.g. tokenizer.save_pretrained)");
        }

        return new ModelManifest
        {
            Name = Path.GetFileName(folder),
            Family = family,
            VocabularySize = vocabularySize,
            ContextLength = contextLength,
            Format = OnnxLanguageModel.DecoderWithPastFormat,
            ModelFile = modelFile,
            Tokenizer = HuggingFaceTokenizer.KindName,
            TokenizerFile = TokenizerFileName,
            EosTokenIds = [.. eos.Where(id => id >= 0 && id < vocabularySize).Distinct()],
            BosTokenId = PrependedBos(tokenizerPath),
            SpecialTokenIds = [.. pad.Where(id => id >= 0 && id < vocabularySize && !eos.Contains(id)).Distinct()],
            Cache = cache,
        };
    }

    /// <summary>
    /// The names and layout of the KV cache: <c>past_names</c>/<c>present_names</c> (GPT-2, combined) or
    /// <c>past_key_names</c>/<c>past_value_names</c>/<c>present_key_names</c>/<c>present_value_names</c> (separate).
    /// Inputs other than the cache must keep their usual names.
    /// </summary>
    private static KvCacheNames GenAiCacheNames(JsonElement decoder, string path)
    {
        var inputs = Names(decoder, "inputs");
        var outputs = Names(decoder, "outputs");
        foreach (var (key, expected) in new[] { ("input_ids", "input_ids"), ("attention_mask", "attention_mask"), ("position_ids", "position_ids") })
        {
            if (inputs.TryGetValue(key, out var name) && name != expected)
            {
                throw new ModelLoadException(path, $"input '{key}' is renamed to '{name}'; only the usual name '{expected}' is supported");
            }
        }

        if (outputs.TryGetValue("logits", out var logits) && logits != "logits")
        {
            throw new ModelLoadException(path, $"output 'logits' is renamed to '{logits}'; only the usual name is supported");
        }

        if (inputs.TryGetValue("past_names", out var past) || outputs.ContainsKey("present_names"))
        {
            return new KvCacheNames
            {
                Layout = KvCacheNames.CombinedLayout,
                Past = Pattern(past ?? KvCacheNames.Gpt2.Past, path),
                Present = Pattern(outputs.GetValueOrDefault("present_names") ?? KvCacheNames.Gpt2.Present, path),
            };
        }

        var defaults = KvCacheNames.Default;
        return new KvCacheNames
        {
            PastKey = Pattern(inputs.GetValueOrDefault("past_key_names") ?? defaults.PastKey, path),
            PastValue = Pattern(inputs.GetValueOrDefault("past_value_names") ?? defaults.PastValue, path),
            PresentKey = Pattern(outputs.GetValueOrDefault("present_key_names") ?? defaults.PresentKey, path),
            PresentValue = Pattern(outputs.GetValueOrDefault("present_value_names") ?? defaults.PresentValue, path),
        };
    }

    private static string Pattern(string pattern, string path) =>
        pattern.Split("%d").Length == 2
            ? pattern
            : throw new ModelLoadException(path, $"cache name pattern '{pattern}' must hold %d (the layer index) once");

    private static Dictionary<string, string> Names(JsonElement decoder, string section)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        if (decoder.TryGetProperty(section, out var element) && element.ValueKind == JsonValueKind.Object)
        {
            foreach (var entry in element.EnumerateObject())
            {
                if (entry.Value.ValueKind == JsonValueKind.String)
                {
                    names[entry.Name] = entry.Value.GetString()!;
                }
            }
        }

        return names;
    }

    /// <summary>An id or a list of ids (<c>eos_token_id</c> is either); none when absent or null.</summary>
    private static int[] Ids(JsonElement element, string name)
    {
        if (!element.TryGetProperty(name, out var value))
        {
            return [];
        }

        return value.ValueKind switch
        {
            JsonValueKind.Number => [value.GetInt32()],
            JsonValueKind.Array => [.. value.EnumerateArray().Select(v => v.GetInt32())],
            JsonValueKind.Null => [],
            _ => throw new FormatException($"'{name}' must be an id or a list of ids, got {value.ValueKind}"),
        };
    }

    /// <summary>
    /// The id the tokenizer's post-processor puts before every text (a <c>TemplateProcessing</c> whose single-sequence
    /// template starts with a special token: Llama's <c>&lt;s&gt;</c>), or null (GPT-2's <c>ByteLevel</c> adds none).
    /// The manifest's <see cref="ModelManifest.BosTokenId"/> is exactly that, as Hugging Face tokenizers prepend it
    /// (ONNX Runtime GenAI 0.18's tokenizer leaves it out for the model builder's Llama test export; its ids are compared without it).
    /// </summary>
    private static int? PrependedBos(string tokenizerPath)
    {
        using var document = ParseJson(tokenizerPath);
        if (!document.RootElement.TryGetProperty("post_processor", out var post) || post.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var processors = post.TryGetProperty("type", out var type) && type.GetString() == "Sequence" && post.TryGetProperty("processors", out var list)
            ? list.EnumerateArray().ToList()
            : [post];
        foreach (var processor in processors)
        {
            if (processor.TryGetProperty("type", out var kind) && kind.GetString() == "TemplateProcessing"
                && processor.TryGetProperty("single", out var single) && single.ValueKind == JsonValueKind.Array
                && single.GetArrayLength() > 0 && single[0].TryGetProperty("SpecialToken", out var special))
            {
                var token = special.GetProperty("id").GetString()!;
                return processor.GetProperty("special_tokens").GetProperty(token).GetProperty("ids")[0].GetInt32();
            }
        }

        return null;
    }

    private static JsonDocument ParseJson(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(path, $"not valid JSON: {ex.Message}", ex);
        }
    }
}
