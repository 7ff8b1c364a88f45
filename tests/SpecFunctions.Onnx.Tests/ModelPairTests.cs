using SpecFunctions.Core.Models;
using SpecFunctions.OnnxGraphs;
using SpecFunctions.TestKit;

namespace SpecFunctions.Onnx.Tests;

public sealed class ModelPairTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void EnsureCompatible_SameByteVocabulary_DifferentArchitectures_Accepts()
    {
        using var drafter = OnnxLanguageModel.Load(TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("d")));
        using var verifier = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("v")));

        var error = Record.Exception(() => ModelPair.EnsureCompatible(drafter, verifier));

        Assert.Null(error);
        Assert.Equal(drafter.Tokenizer.Identity, verifier.Tokenizer.Identity);
    }

    [Fact]
    public void EnsureCompatible_VocabularySizesDiffer_ThrowsNamingBothFolders()
    {
        using var drafter = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("d")));
        using var verifier = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("v"), new TinyTransformerConfig { VocabularySize = 300 }));

        var error = Assert.Throws<ModelLoadException>(() => ModelPair.EnsureCompatible(drafter, verifier));

        Assert.Contains("vocabulary sizes differ: drafter 260, verifier 300", error.Message);
        Assert.Contains(drafter.Folder, error.Message);
        Assert.Contains(verifier.Folder, error.Message);
    }

    [Fact]
    public void EnsureCompatible_TokenizersDiffer_Throws()
    {
        using var drafter = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("d")));
        var hfFolder = _temp.Sub("v");
        var model = TinyTransformer.Create();
        TinyTransformerBuilder.WriteModelFolder(hfFolder, TinyTransformerBuilder.Build(model), new ModelManifest
        {
            Name = "hf-verifier",
            Family = "specfn-tiny",
            VocabularySize = 260,
            Tokenizer = "hf-tokenizer-json",
            TokenizerFile = "tokenizer.json",
            ContextLength = 1024,
            Format = "decoder-with-past",
        });
        File.WriteAllText(Path.Combine(hfFolder, "tokenizer.json"), TokenizerTests.TinyBpeJson);
        using var verifier = OnnxLanguageModel.Load(hfFolder);

        var error = Assert.Throws<ModelLoadException>(() => ModelPair.EnsureCompatible(drafter, verifier));

        Assert.Contains("tokenizers differ: drafter byte, verifier hf-tokenizer-json:sha256:", error.Message);
        Assert.Equal([11, 15, 16], verifier.Tokenizer.Encode("hello world"));
    }

    [Fact]
    public void Load_HfTokenizerFileMissing_ThrowsNamingTokenizerFile()
    {
        var folder = _temp.Sub("m");
        TinyTransformerBuilder.WriteModelFolder(folder, TinyTransformerBuilder.Build(TinyTransformer.Create()), new ModelManifest
        {
            Name = "no-tokenizer",
            Family = "specfn-tiny",
            VocabularySize = 260,
            Tokenizer = "hf-tokenizer-json",
            ContextLength = 1024,
            Format = "decoder-with-past",
        });

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Equal(Path.Combine(Path.GetFullPath(folder), "tokenizer.json"), error.Path);
        Assert.Contains("tokenizer file not found", error.Message);
    }
}
