using System.Text.Json;
using System.Text.Json.Nodes;
using Onnx;
using SpecFunctions.Core.Models;
using static SpecFunctions.OnnxGraphs.OnnxGraphWriter;

namespace SpecFunctions.OnnxGraphs;

/// <summary>
/// Writes a <see cref="TinyTransformer"/> as an ONNX graph in the decoder-with-past signature that Hugging Face optimum and the
/// ONNX Runtime GenAI model builder export: <c>input_ids</c>, <c>attention_mask</c>, <c>position_ids</c>,
/// <c>past_key_values.{i}.key|value</c> → <c>logits</c>, <c>present.{i}.key|value</c>.
/// </summary>
public static class TinyTransformerBuilder
{
    public static ModelProto Build(TinyTransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = model.Config;
        int d = config.ModelDim, heads = config.Heads, hd = config.HeadDim, hidden = config.HiddenDim, v = config.VocabularySize;
        var half = config.HalfPrecision;
        var cacheType = config.Float16 || half ? Float16Type : FloatType;
        var g = new OnnxGraphWriter("tiny_transformer");
        string W(string name, float[] data, params long[] dims) => half ? g.WeightHalf(name, data, dims) : g.Weight(name, data, dims);

        var inputIds = g.Input("input_ids", Int64Type, "batch", "sequence");
        var attentionMask = g.Input("attention_mask", Int64Type, "batch", "total_sequence");
        string positionIds;
        if (config.PositionIdsInput)
        {
            positionIds = g.Input("position_ids", Int64Type, "batch", "sequence");
        }
        else
        {
            // Positions from the cache length, as exports without position_ids do: past_length .. past_length + n − 1.
            var pastLength = config.CombinedCache
                ? g.Node("Gather", [g.Node("Shape", ["past_0"]), g.Scalar(3L)])
                : g.Node("Gather", [g.Node("Shape", ["past_key_values.0.key"]), g.Scalar(2L)]);
            var count = g.Node("Gather", [g.Node("Shape", [inputIds]), g.Scalar(1L)]);
            positionIds = g.Node("Unsqueeze", [g.Node("Range", [pastLength, g.Node("Add", [pastLength, count]), g.Scalar(1L)]), g.Vector(0)]);
        }

        if (config.UseCacheBranchInput)
        {
            // Declared like optimum's merged decoders; this graph has one branch, so the flag is read by nothing.
            g.Input("use_cache_branch", BoolType, 1L);
        }

        string? squareMask = null;
        var x = g.Node("Add", [
            g.Node("Gather", [W("token_embedding", model.TokenEmbedding, v, d), inputIds]),
            g.Node("Gather", [W("position_embedding", model.PositionEmbedding, config.MaxPositions, d), positionIds])]);

        // Causal mask over the concatenated (past + new) keys: query i sits at absolute index total - n + i and may see
        // keys 0..that index, and only where attention_mask is 1.
        var zero = g.Scalar(0L);
        var one = g.Scalar(1L);
        var n = g.Node("Gather", [g.Node("Shape", [inputIds]), one]);
        var total = g.Node("Gather", [g.Node("Shape", [attentionMask]), one]);
        var keyIndex = g.Node("Range", [zero, total, one]);
        var queryIndex = g.Node("Unsqueeze", [g.Node("Range", [g.Node("Sub", [total, n]), total, one]), g.Vector(1)]);
        var causal = g.Node("Not", [g.Node("Greater", [keyIndex, queryIndex])]);
        var padding = g.Node("Unsqueeze", [g.Node("Cast", [attentionMask], Attribute("to", (long)BoolType)), g.Vector(1, 2)]);
        var allowed = g.Node("And", [causal, padding]);
        if (config.SquareCausalMask)
        {
            var square = g.Node("ConstantOfShape", [g.Node("Concat", [g.Node("Unsqueeze", [n, g.Vector(0)]), g.Node("Unsqueeze", [n, g.Vector(0)])], Attribute("axis", 0L))]);
            var target = g.Node("Concat", [g.Vector(1, 1), g.Node("Unsqueeze", [n, g.Vector(0)]), g.Node("Unsqueeze", [total, g.Vector(0)])], Attribute("axis", 0L));
            var zeros = g.Node("Expand", [square, target]);
            squareMask = half ? g.Node("Cast", [zeros], Attribute("to", (long)Float16Type)) : zeros;
        }

        var masked = half ? g.ScalarHalf(-65504f) : g.Scalar(-1e9f);
        var scale = half ? g.ScalarHalf(1f / MathF.Sqrt(hd)) : g.Scalar(1f / MathF.Sqrt(hd));
        var splitHeads = g.Vector(0, -1, heads, hd);
        var mergeHeads = g.Vector(0, -1, d);

        for (var i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var p = $"layer{i}.";
            var normed = g.Node("LayerNormalization", [x, W(p + "norm1.scale", layer.Norm1Scale, d), W(p + "norm1.bias", layer.Norm1Bias, d)],
                Attribute("axis", -1L), Attribute("epsilon", TinyTransformer.NormEpsilon));
            string Heads(string weight, float[] data) =>
                g.Node("Transpose", [g.Node("Reshape", [g.Node("MatMul", [normed, W(p + weight, data, d, d)]), splitHeads])], Attribute("perm", 0, 2, 1, 3));

            var q = Heads("query", layer.Query);
            var (presentKey, presentValue) = config.CombinedCache
                ? CombinedCache(g, i, Heads("key", layer.Key), Heads("value", layer.Value), cacheType, hd, heads, half)
                : (Cache(g, i, "key", Heads("key", layer.Key), cacheType, hd, heads, half),
                   Cache(g, i, "value", Heads("value", layer.Value), cacheType, hd, heads, half));

            var scores = g.Node("Mul", [g.Node("MatMul", [q, g.Node("Transpose", [presentKey], Attribute("perm", 0, 1, 3, 2))]), scale]);
            if (squareMask is not null)
            {
                scores = g.Node("Add", [scores, squareMask]);
            }

            var probabilities = g.Node("Softmax", [g.Node("Where", [allowed, scores, masked])], Attribute("axis", -1L));
            var context = g.Node("Reshape", [g.Node("Transpose", [g.Node("MatMul", [probabilities, presentValue])], Attribute("perm", 0, 2, 1, 3)), mergeHeads]);
            x = g.Node("Add", [x, g.Node("MatMul", [context, W(p + "output", layer.Output, d, d)])]);

            var normed2 = g.Node("LayerNormalization", [x, W(p + "norm2.scale", layer.Norm2Scale, d), W(p + "norm2.bias", layer.Norm2Bias, d)],
                Attribute("axis", -1L), Attribute("epsilon", TinyTransformer.NormEpsilon));
            var up = g.Node("Add", [g.Node("MatMul", [normed2, W(p + "up", layer.Up, d, hidden)]), W(p + "up.bias", layer.UpBias, hidden)]);
            var activated = g.Node("Mul", [up, g.Node("Sigmoid", [up])]);
            var down = g.Node("Add", [g.Node("MatMul", [activated, W(p + "down", layer.Down, hidden, d)]), W(p + "down.bias", layer.DownBias, d)]);
            x = g.Node("Add", [x, down]);
        }

        var final = g.Node("LayerNormalization", [x, W("final_norm.scale", model.FinalNormScale, d), W("final_norm.bias", model.FinalNormBias, d)],
            Attribute("axis", -1L), Attribute("epsilon", TinyTransformer.NormEpsilon));
        var logits = g.Node("MatMul", [final, W("lm_head", model.LmHead, d, v)]);
        if (config.Float16 && !half)
        {
            g.Node("Cast", [logits], "logits", Attribute("to", (long)Float16Type));
        }
        else
        {
            g.Node("Identity", [logits], "logits");
        }

        g.Output("logits", cacheType, "batch", "sequence", (long)v);
        return g.ToModel();
    }

    /// <summary>
    /// Writes a model folder: <c>model.onnx</c> and a <c>specfn-model.json</c> (format decoder-with-past, byte tokenizer when the
    /// vocabulary has room for 256 bytes, ids 256.. as bos/eos) and returns the folder.
    /// </summary>
    public static string WriteModelFolder(string folder, TinyTransformerConfig? config = null, string name = "tiny-transformer") =>
        WriteModelFolder(folder, TinyTransformer.Create(config), name);

    /// <summary>The model folder of <paramref name="model"/> (e.g. a drafter made from a verifier's weights), as above.</summary>
    public static string WriteModelFolder(string folder, TinyTransformer model, string name)
    {
        ArgumentNullException.ThrowIfNull(model);
        var v = model.Config.VocabularySize;
        if (v < 258)
        {
            throw new ArgumentException($"a model folder with the byte tokenizer needs a vocabulary of at least 258 (bytes + bos + eos), got {v}", nameof(model));
        }

        var manifest = new ModelManifest
        {
            Name = name,
            Family = "specfn-tiny",
            VocabularySize = v,
            Tokenizer = "byte",
            BosTokenId = 256,
            EosTokenIds = [257],
            SpecialTokenIds = [.. Enumerable.Range(256, v - 256)],
            ContextLength = model.Config.MaxPositions,
            Format = ModelManifest.DecoderWithPastFormat,
            Cache = model.Config.CombinedCache ? KvCacheNames.Gpt2 : null,
        };
        WriteModelFolder(folder, Build(model), manifest);
        File.WriteAllText(Path.Combine(folder, GenAiConfigFileName), GenAiConfig(model.Config, bos: 256, eos: 257));
        return folder;
    }

    /// <summary>
    /// Writes the folder an exporter would (no <c>specfn-model.json</c>): <c>model.onnx</c>, <c>genai_config.json</c> (bos 256,
    /// eos 257; type <c>gpt2</c> with <see cref="TinyTransformerConfig.CombinedCache"/>, else <c>decoder</c>) and a
    /// byte-level BPE <c>tokenizer.json</c> without merges whose ids are the bytes (<see cref="ByteLevelTokenizerJson"/>),
    /// so it encodes text as the byte tokenizer does. Returns the folder.
    /// </summary>
    public static string WriteExportFolder(string folder, TinyTransformerConfig? config = null)
    {
        config ??= new TinyTransformerConfig();
        WriteModelFolder(folder, config, Path.GetFileName(folder));
        File.Delete(Path.Combine(folder, ModelManifest.FileName));
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), ByteLevelTokenizerJson(config.VocabularySize));
        return folder;
    }

    /// <summary>
    /// A GPT-2-style byte-level BPE <c>tokenizer.json</c> with no merges: id b is byte b (in GPT-2's byte-to-character
    /// mapping), ids 256 … <paramref name="vocabularySize"/> − 1 are special tokens <c>&lt;|special_k|&gt;</c>.
    /// </summary>
    public static string ByteLevelTokenizerJson(int vocabularySize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 256);
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToHashSet();
        var vocab = new JsonObject();
        var shifted = 0;
        for (var b = 0; b < 256; b++)
        {
            vocab[((char)(printable.Contains(b) ? b : 256 + shifted++)).ToString()] = b;
        }

        var added = new JsonArray();
        for (var id = 256; id < vocabularySize; id++)
        {
            var content = $"<|special_{id - 256}|>";
            vocab[content] = id;
            added.Add(new JsonObject { ["id"] = id, ["content"] = content, ["special"] = true });
        }

        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray() },
        };
        return root.ToJsonString();
    }

    /// <summary>The ONNX Runtime GenAI configuration file of a model folder.</summary>
    public const string GenAiConfigFileName = "genai_config.json";

    /// <summary>
    /// The ONNX Runtime GenAI <c>genai_config.json</c> of this graph: model type <c>decoder</c> (GenAI's generic decoder-only
    /// model with a separate key and value cache per layer; its <c>gpt2</c> type expects GPT-2's combined <c>past_N</c>
    /// cache and cannot load this graph; with <see cref="TinyTransformerConfig.CombinedCache"/> the graph has that cache and the
    /// type is <c>gpt2</c>), greedy search by default.
    /// </summary>
    public static string GenAiConfig(TinyTransformerConfig config, int bos, int eos)
    {
        ArgumentNullException.ThrowIfNull(config);
        var inputs = new JsonObject
        {
            ["input_ids"] = "input_ids",
            ["attention_mask"] = "attention_mask",
        };
        if (config.PositionIdsInput)
        {
            inputs["position_ids"] = "position_ids";
        }

        JsonObject outputs = new() { ["logits"] = "logits" };
        if (config.CombinedCache)
        {
            inputs["past_names"] = "past_%d";
            outputs["present_names"] = "present_%d";
        }
        else
        {
            inputs["past_key_names"] = "past_key_values.%d.key";
            inputs["past_value_names"] = "past_key_values.%d.value";
            outputs["present_key_names"] = "present.%d.key";
            outputs["present_value_names"] = "present.%d.value";
        }

        var root = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["bos_token_id"] = bos,
                ["context_length"] = config.MaxPositions,
                ["decoder"] = new JsonObject
                {
                    ["session_options"] = new JsonObject { ["log_id"] = "onnxruntime-genai", ["provider_options"] = new JsonArray() },
                    ["filename"] = "model.onnx",
                    ["head_size"] = config.HeadDim,
                    ["hidden_size"] = config.ModelDim,
                    ["inputs"] = inputs,
                    ["outputs"] = outputs,
                    ["num_attention_heads"] = config.Heads,
                    ["num_hidden_layers"] = config.Layers,
                    ["num_key_value_heads"] = config.Heads,
                },
                ["eos_token_id"] = eos,
                ["pad_token_id"] = eos,
                ["type"] = config.CombinedCache ? "gpt2" : "decoder",
                ["vocab_size"] = config.VocabularySize,
            },
            ["search"] = new JsonObject
            {
                ["diversity_penalty"] = 0.0,
                ["do_sample"] = false,
                ["early_stopping"] = true,
                ["length_penalty"] = 1.0,
                ["max_length"] = config.MaxPositions,
                ["min_length"] = 0,
                ["no_repeat_ngram_size"] = 0,
                ["num_beams"] = 1,
                ["num_return_sequences"] = 1,
                ["past_present_share_buffer"] = false,
                ["repetition_penalty"] = 1.0,
                ["temperature"] = 1.0,
                ["top_k"] = 1,
                ["top_p"] = 1.0,
            },
        };
        return root.ToJsonString(ManifestJsonOptions);
    }

    /// <summary>Writes <paramref name="model"/> as <c>model.onnx</c> and <paramref name="manifest"/> into <paramref name="folder"/>.</summary>
    public static string WriteModelFolder(string folder, ModelProto model, ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(manifest);
        Directory.CreateDirectory(folder);
        if (model.Graph.Initializer.Sum(t => (long)t.RawData.Length) > ExternalDataThreshold)
        {
            // Past protobuf's 2 GB limit (and well before it): weights in model.onnx.data beside the graph, as exporters do.
            OnnxGraphWriter.MoveToExternalData(model, folder, manifest.ModelFile + ".data");
        }

        model.WriteToFile(Path.Combine(folder, manifest.ModelFile));
        File.WriteAllText(Path.Combine(folder, ModelManifest.FileName), JsonSerializer.Serialize(manifest, ManifestJsonOptions));
        return folder;
    }

    /// <summary>Models whose weights pass this many bytes are written with external data (<c>model.onnx.data</c>).</summary>
    public const long ExternalDataThreshold = 1L << 30;

    private static readonly JsonSerializerOptions ManifestJsonOptions = new() { WriteIndented = true };

    // GPT-2's layout: past_{layer} [2, batch, heads, past, headDim] holds the keys (index 0) and values (1); present_{layer}
    // stacks the concatenated keys and values the same way. Returns them in the arithmetic's type.
    private static (string Key, string Value) CombinedCache(OnnxGraphWriter g, int layer, string key, string value, int cacheType, int headDim, int heads, bool half)
    {
        var past = g.Input($"past_{layer}", cacheType, 2L, "batch", (long)heads, "past_sequence", (long)headDim);
        var presentName = $"present_{layer}";
        g.Output(presentName, cacheType, 2L, "batch", (long)heads, "total_sequence", (long)headDim);
        var widen = cacheType == Float16Type && !half;
        string Part(long index, string current)
        {
            var stored = g.Node("Gather", [past, g.Scalar(index)], Attribute("axis", 0L));
            return g.Node("Concat", [stored, widen ? g.Node("Cast", [current], Attribute("to", (long)Float16Type)) : current], Attribute("axis", 2L));
        }

        var keys = Part(0, key);
        var values = Part(1, value);
        g.Node("Concat", [g.Node("Unsqueeze", [keys, g.Vector(0)]), g.Node("Unsqueeze", [values, g.Vector(0)])], presentName, Attribute("axis", 0L));
        return widen
            ? (g.Node("Cast", [keys], Attribute("to", (long)FloatType)), g.Node("Cast", [values], Attribute("to", (long)FloatType)))
            : (keys, values);
    }

    // Concatenates the layer's past and new keys/values; a float16 cache is widened for the arithmetic and narrowed for output.
    private static string Cache(OnnxGraphWriter g, int layer, string kind, string current, int cacheType, int headDim, int heads, bool half)
    {
        var past = g.Input($"past_key_values.{layer}.{kind}", cacheType, "batch", (long)heads, "past_sequence", (long)headDim);
        var presentName = $"present.{layer}.{kind}";
        g.Output(presentName, cacheType, "batch", (long)heads, "total_sequence", (long)headDim);
        if (cacheType == FloatType || half)
        {
            return g.Node("Concat", [past, current], presentName, Attribute("axis", 2L));
        }

        var narrow = g.Node("Concat", [past, g.Node("Cast", [current], Attribute("to", (long)Float16Type))], presentName, Attribute("axis", 2L));
        return g.Node("Cast", [narrow], Attribute("to", (long)FloatType));
    }
}
