using SpecFunctions.Core.Models;

namespace SpecFunctions.Onnx.Tokenizers;

/// <summary>Creates the tokenizer a manifest declares.</summary>
public static class TokenizerLoader
{
    /// <summary>Throws <see cref="ModelLoadException"/> for an unknown kind, a missing file or a vocabulary that does not fit the manifest.</summary>
    public static ITokenizer Load(ModelManifest manifest, string folder)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var manifestPath = Path.Combine(folder, ModelManifest.FileName);
        switch (manifest.Tokenizer)
        {
            case ByteTokenizer.KindName:
                if (manifest.VocabularySize < 256)
                {
                    throw new ModelLoadException(manifestPath, $"tokenizer 'byte' needs vocabularySize >= 256, got {manifest.VocabularySize}");
                }

                return ByteTokenizer.Instance;
            case HuggingFaceTokenizer.KindName:
                var path = OnnxLanguageModel.ResolveInFolder(folder, manifest.TokenizerFile ?? "tokenizer.json", "tokenizerFile");
                var tokenizer = HuggingFaceTokenizer.Load(path);
                if (tokenizer.VocabularySize > manifest.VocabularySize)
                {
                    throw new ModelLoadException(path, $"tokenizer has ids up to {tokenizer.VocabularySize - 1} but the manifest's vocabularySize is {manifest.VocabularySize}");
                }

                return tokenizer;
            default:
                throw new ModelLoadException(manifestPath, $"unknown tokenizer '{manifest.Tokenizer}' (expected '{ByteTokenizer.KindName}' or '{HuggingFaceTokenizer.KindName}')");
        }
    }
}
