namespace SpecFunctions.Onnx.Tokenizers;

/// <summary>Text ↔ token ids for one model folder.</summary>
public interface ITokenizer
{
    /// <summary>The manifest's tokenizer kind: <c>byte</c> or <c>hf-tokenizer-json</c>.</summary>
    string Kind { get; }

    /// <summary>
    /// Identifies the vocabulary: two tokenizers with the same identity map text to the same ids.
    /// <c>byte</c> for the byte tokenizer, <c>hf-tokenizer-json:sha256:…</c> (over the normalised model and added tokens) otherwise.
    /// </summary>
    string Identity { get; }

    /// <summary>Token ids of <paramref name="text"/>, without any beginning-of-sequence token (the caller adds the manifest's).</summary>
    int[] Encode(string text);

    /// <summary>The text of <paramref name="ids"/>; ids of special tokens are skipped.</summary>
    string Decode(IEnumerable<int> ids);
}
