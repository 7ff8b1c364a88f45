namespace SpecFunctions.Onnx;

/// <summary>Checks that a drafter and a verifier can run speculative decoding together.</summary>
public static class ModelPair
{
    /// <summary>
    /// Throws <see cref="ModelLoadException"/> (naming both folders) when the vocabularies differ in size or the tokenizers
    /// map text to different ids.
    /// </summary>
    public static void EnsureCompatible(OnnxLanguageModel drafter, OnnxLanguageModel verifier)
    {
        ArgumentNullException.ThrowIfNull(drafter);
        ArgumentNullException.ThrowIfNull(verifier);
        var pair = $"{drafter.Folder} (drafter) and {verifier.Folder} (verifier)";
        if (drafter.VocabularySize != verifier.VocabularySize)
        {
            throw new ModelLoadException(pair, $"vocabulary sizes differ: drafter {drafter.VocabularySize}, verifier {verifier.VocabularySize}");
        }

        if (drafter.Tokenizer.Identity != verifier.Tokenizer.Identity)
        {
            throw new ModelLoadException(pair, $"tokenizers differ: drafter {drafter.Tokenizer.Identity}, verifier {verifier.Tokenizer.Identity}");
        }
    }
}
