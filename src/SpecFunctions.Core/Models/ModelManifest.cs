using System.Text.Json.Serialization;

namespace SpecFunctions.Core.Models;

/// <summary>
/// <c>specfn-model.json</c>, the manifest of a model folder (<c>model.onnx</c> + optional external data + a tokenizer).
/// Drafter and verifier of one run must agree on <see cref="VocabularySize"/> and <see cref="Tokenizer"/>.
/// </summary>
public sealed record ModelManifest
{
    public const string FileName = "specfn-model.json";

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
}
