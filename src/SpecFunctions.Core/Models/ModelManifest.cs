using System.Text.Json.Serialization;

namespace SpecFunctions.Core.Models;

/// <summary>
/// <c>specfn-model.json</c>, the manifest of a model folder (<c>model.onnx</c> + optional external data + a tokenizer).
/// Drafter and verifier of one run must agree on <see cref="VocabularySize"/> and <see cref="Tokenizer"/>.
/// </summary>
public sealed record ModelManifest
{
    public const string FileName = "specfn-model.json";

    /// <summary><see cref="Format"/> of a graph <c>input_ids → logits</c> over a fixed window of tokens.</summary>
    public const string StatelessFormat = "stateless";

    /// <summary><see cref="Format"/> of a graph with a KV cache (<c>past_key_values</c> in, <c>present</c> out).</summary>
    public const string DecoderWithPastFormat = "decoder-with-past";

    /// <summary>Model name, e.g. <c>demo-verifier</c>.</summary>
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>Model family, e.g. <c>specfn-demo</c>, <c>llama</c>, <c>qwen2</c>. The mitigation trains in process only for <c>specfn-demo</c>.</summary>
    [JsonPropertyName("family")]
    public required string Family { get; init; }

    [JsonPropertyName("vocabularySize")]
    public required int VocabularySize { get; init; }

    /// <summary>Tokenizer kind: <c>byte</c> (UTF-8 bytes are token ids 0..255) or <c>hf-tokenizer-json</c>.</summary>
    [JsonPropertyName("tokenizer")]
    public required string Tokenizer { get; init; }

    /// <summary>Tokenizer file relative to the folder (for <c>hf-tokenizer-json</c>: <c>tokenizer.json</c>).</summary>
    [JsonPropertyName("tokenizerFile")]
    public string? TokenizerFile { get; init; }

    /// <summary>Token ids that end a generation.</summary>
    [JsonPropertyName("eosTokenIds")]
    public int[] EosTokenIds { get; init; } = [];

    /// <summary>Beginning-of-sequence id prepended to prompts, if the model uses one.</summary>
    [JsonPropertyName("bosTokenId")]
    public int? BosTokenId { get; init; }

    /// <summary>Other special token ids (never produced by the byte tokenizer).</summary>
    [JsonPropertyName("specialTokenIds")]
    public int[] SpecialTokenIds { get; init; } = [];

    /// <summary>Longest sequence the model accepts.</summary>
    [JsonPropertyName("contextLength")]
    public required int ContextLength { get; init; }

    /// <summary>Graph signature: <c>stateless</c> (<c>input_ids → logits</c>) or <c>decoder-with-past</c> (KV cache).</summary>
    [JsonPropertyName("format")]
    public required string Format { get; init; }

    /// <summary>For <c>stateless</c> models: how many previous tokens each position conditions on (its receptive field).</summary>
    [JsonPropertyName("window")]
    public int? Window { get; init; }

    /// <summary>ONNX file name relative to the folder. Default <c>model.onnx</c>.</summary>
    [JsonPropertyName("modelFile")]
    public string ModelFile { get; init; } = "model.onnx";

    /// <summary>
    /// For <c>decoder-with-past</c> models: the names and layout of the KV cache inputs and outputs. Default
    /// <see cref="KvCacheNames.Default"/> (optimum's and the model builder's <c>past_key_values.%d.key</c> … <c>present.%d.value</c>).
    /// </summary>
    [JsonPropertyName("cache")]
    public KvCacheNames? Cache { get; init; }
}

/// <summary>
/// The KV cache of a decoder-with-past graph: <see cref="SeparateLayout"/> (one key and one value tensor per layer,
/// <c>[batch, kvHeads, past, headDim]</c>: optimum, the ONNX Runtime GenAI model builder) or <see cref="CombinedLayout"/>
/// (one tensor per layer, <c>[2, batch, heads, past, headDim]</c>, key then value: ONNX Runtime's GPT-2 exporter).
/// Name patterns hold <c>%d</c> for the layer index, as in <c>genai_config.json</c>.
/// </summary>
public sealed record KvCacheNames
{
    public const string SeparateLayout = "separate";
    public const string CombinedLayout = "combined";

    /// <summary>The optimum / model builder names, separate layout.</summary>
    public static KvCacheNames Default { get; } = new();

    /// <summary>ONNX Runtime's GPT-2 names, combined layout (<c>past_%d</c>, <c>present_%d</c>).</summary>
    public static KvCacheNames Gpt2 { get; } = new() { Layout = CombinedLayout };

    /// <summary><see cref="SeparateLayout"/> or <see cref="CombinedLayout"/>.</summary>
    [JsonPropertyName("layout")]
    public string Layout { get; init; } = SeparateLayout;

    [JsonPropertyName("pastKey")]
    public string PastKey { get; init; } = "past_key_values.%d.key";

    [JsonPropertyName("pastValue")]
    public string PastValue { get; init; } = "past_key_values.%d.value";

    [JsonPropertyName("presentKey")]
    public string PresentKey { get; init; } = "present.%d.key";

    [JsonPropertyName("presentValue")]
    public string PresentValue { get; init; } = "present.%d.value";

    /// <summary>Combined layout: the past input of a layer.</summary>
    [JsonPropertyName("past")]
    public string Past { get; init; } = "past_%d";

    /// <summary>Combined layout: the present output of a layer.</summary>
    [JsonPropertyName("present")]
    public string Present { get; init; } = "present_%d";
}
