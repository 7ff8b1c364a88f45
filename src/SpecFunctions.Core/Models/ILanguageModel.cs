namespace SpecFunctions.Core.Models;

/// <summary>
/// A causal language model that a backend (ONNX Runtime, a synthetic model in tests) implements.
/// The model itself is shared and thread-safe; all per-sequence state lives in <see cref="IModelSequence"/>.
/// </summary>
public interface ILanguageModel : IDisposable
{
    /// <summary>Human-readable identity (for reports and errors).</summary>
    string Name { get; }

    /// <summary>Number of logits per position.</summary>
    int VocabularySize { get; }

    /// <summary>Longest sequence (prompt + generated tokens) the model accepts; <see cref="int.MaxValue"/> when unbounded.</summary>
    int ContextLength { get; }

    /// <summary>Starts an empty sequence. Sequences are not thread-safe, but many may run at once on one model.</summary>
    IModelSequence CreateSequence();
}

/// <summary>
/// The state of one sequence in a <see cref="ILanguageModel"/> (for a decoder-with-past model: its KV cache).
/// </summary>
public interface IModelSequence : IDisposable
{
    /// <summary>Number of tokens the sequence holds.</summary>
    int Length { get; }

    /// <summary>
    /// Appends <paramref name="tokens"/> and writes next-token logits for the last
    /// <c>logits.Length / VocabularySize</c> appended positions, row-major (row <c>i</c> is the distribution
    /// after the <c>tokens.Length - rows + i</c>-th appended token). <paramref name="logits"/> may be empty
    /// (prefill without reading logits); it may not ask for more rows than tokens appended.
    /// </summary>
    void Append(ReadOnlySpan<int> tokens, Span<float> logits);

    /// <summary>Rewinds the sequence to its first <paramref name="length"/> tokens (a rejected draft).</summary>
    void Truncate(int length);
}
