using SpecFunctions.Core.Models;

namespace SpecFunctions.Onnx.Tokenizers;

/// <summary>Creates the tokenizer a manifest declares.</summary>
public static class TokenizerLoader
{
    /// <summary>Throws <see cref="ModelLoadException"/> for an unknown kind, a missing file or a vocabulary that does not fit the manifest.</summary>
    public static ITokenizer Load(ModelManifest manifest, string folder) => Load(manifest, folder, Path.Combine(folder, ModelManifest.FileName));

    /// <summary>As <see cref="Load(ModelManifest, string)"/>; errors about the manifest name <paramref name="source"/> (the file it came from).</summary>
    public static ITokenizer Load(ModelManifest manifest, string folder, string source)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        switch (manifest.Tokenizer)
        {
            case ByteTokenizer.KindName:
                if (manifest.VocabularySize < 256)
                {
                    throw new ModelLoadException(source, $"tokenizer 'byte' needs vocabularySize >= 256, got {manifest.VocabularySize}");
                }

                return ByteTokenizer.Instance;
            case HuggingFaceTokenizer.KindName:
                var path = OnnxLanguageModel.ResolveInFolder(folder, manifest.TokenizerFile ?? "tokenizer.json", "tokenizerFile");
                return LoadFile(path, manifest.VocabularySize, source);
            default:
                throw new ModelLoadException(source, $"unknown tokenizer '{manifest.Tokenizer}' (expected '{ByteTokenizer.KindName}' or '{HuggingFaceTokenizer.KindName}')");
        }
    }

    /// <summary>
    /// Loads a <c>tokenizer.json</c> for a model of <paramref name="vocabularySize"/> ids; a tokenizer with more ids than
    /// the model's vocabulary (ids the graph has no logits for) is refused.
    /// </summary>
    public static HuggingFaceTokenizer LoadFile(string path, int vocabularySize, string source)
    {
        var tokenizer = HuggingFaceTokenizer.Load(path);
        if (tokenizer.VocabularySize > vocabularySize)
        {
            throw new ModelLoadException(
                path,
                $"vocabulary mismatch: the tokenizer has ids up to {tokenizer.VocabularySize - 1} but the model's vocabulary ({Path.GetFileName(source)}) is {vocabularySize}; use a tokenizer that matches the graph (specfn --tokenizer FILE)");
        }

        return tokenizer;
    }
}
