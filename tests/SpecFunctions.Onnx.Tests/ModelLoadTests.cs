using System.Text.Json.Nodes;
using SpecFunctions.Core.Models;
using SpecFunctions.OnnxGraphs;
using SpecFunctions.TestKit;

namespace SpecFunctions.Onnx.Tests;

public sealed class ModelLoadTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Load_MissingFolder_ThrowsNamingFolder()
    {
        var folder = _temp.Sub("nope");

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Equal(folder, error.Path);
        Assert.Contains("model folder not found", error.Message);
    }

    [Fact]
    public void Load_MissingModelFile_ThrowsNamingFile()
    {
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"));
        File.Delete(Path.Combine(folder, "model.onnx"));

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Equal(Path.Combine(folder, "model.onnx"), error.Path);
        Assert.Contains("model file not found", error.Message);
    }

    [Fact]
    public void Load_CorruptModelFile_ThrowsNamingFileAndOrtCause()
    {
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"));
        var bytes = new byte[4096];
        new Random(5).NextBytes(bytes);
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), bytes);

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Equal(Path.Combine(folder, "model.onnx"), error.Path);
        Assert.Contains("ONNX Runtime could not load the model", error.Message);
        Assert.NotNull(error.InnerException);
    }

    [Theory]
    [InlineData("format")]
    [InlineData("vocabularySize")]
    [InlineData("name")]
    public void Load_ManifestMissingRequiredField_ThrowsNamingField(string field)
    {
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"));
        EditManifest(folder, json => json.Remove(field));

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Equal(Path.Combine(folder, ModelManifest.FileName), error.Path);
        Assert.Contains($"'{field}'", error.Message);
    }

    [Fact]
    public void Load_StatelessWithoutWindow_ThrowsNamingWindow()
    {
        var folder = TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("w"));
        EditManifest(folder, json => json.Remove("window"));

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Contains("needs 'window'", error.Message);
    }

    [Fact]
    public void Load_UnknownFormat_ThrowsListingKnownFormats()
    {
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"));
        EditManifest(folder, json => json["format"] = "encoder-decoder");

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Contains("'format' must be 'stateless' or 'decoder-with-past', got 'encoder-decoder'", error.Message);
    }

    [Fact]
    public void Load_DecoderGraphDeclaredStateless_ThrowsFormatMismatch()
    {
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"));
        EditManifest(folder, json =>
        {
            json["format"] = "stateless";
            json["window"] = 8;
        });

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Equal(Path.Combine(folder, "model.onnx"), error.Path);
        Assert.Contains("graph does not match format 'stateless'", error.Message);
        Assert.Contains("past_key_values.0.key", error.Message);
    }

    [Fact]
    public void Load_StatelessGraphDeclaredDecoderWithPast_ThrowsFormatMismatch()
    {
        var folder = TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("w"));
        EditManifest(folder, json => json["format"] = "decoder-with-past");

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Contains("graph does not match format 'decoder-with-past'", error.Message);
        Assert.Contains("attention_mask", error.Message);
    }

    [Fact]
    public void Load_ManifestVocabularyDiffersFromGraph_ThrowsFormatMismatch()
    {
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"));
        EditManifest(folder, json => json["vocabularySize"] = 300);

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Contains("'logits' float32/float16 [1, n, 300]", error.Message);
    }

    [Fact]
    public void Load_SameFolderTwice_SameIdentity_ChangedWeights_DifferentIdentity()
    {
        var first = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("a"), new TinyTransformerConfig { Seed = 1 });
        var copy = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("b"), new TinyTransformerConfig { Seed = 1 });
        var other = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("c"), new TinyTransformerConfig { Seed = 2 });

        using var a = OnnxLanguageModel.Load(first);
        using var b = OnnxLanguageModel.Load(copy);
        using var c = OnnxLanguageModel.Load(other);

        Assert.Equal(a.Identity, b.Identity);
        Assert.NotEqual(a.Identity, c.Identity);
    }

    [Fact]
    public void Load_ExternalDataFile_IsPartOfIdentity()
    {
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"));
        string before;
        using (var model = OnnxLanguageModel.Load(folder))
        {
            before = model.Identity;
        }

        File.WriteAllBytes(Path.Combine(folder, "model.onnx.data"), [1, 2, 3]);
        using var again = OnnxLanguageModel.Load(folder);

        Assert.NotEqual(before, again.Identity);
    }

    private static void EditManifest(string folder, Action<JsonObject> edit)
    {
        var path = Path.Combine(folder, ModelManifest.FileName);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }
}
