using System.Text.Json.Nodes;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Storage;
using SpecFunctions.TestKit;

namespace SpecFunctions.Onnx.Tests;

/// <summary>Files a manifest names stay inside the model folder, so the folder's hash covers the model that runs.</summary>
public sealed class ModelFolderContainmentTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("../outside/model.onnx")]
    [InlineData("sub/../../outside/model.onnx")]
    [InlineData("ABSOLUTE")]
    public void Load_ModelFileOutsideTheFolder_RefusedNamingTheField(string modelFile)
    {
        var folder = TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("m"));
        Directory.CreateDirectory(_temp.Sub("outside"));
        File.Move(Path.Combine(folder, "model.onnx"), _temp.Sub("outside/model.onnx"));
        var value = modelFile == "ABSOLUTE" ? _temp.Sub("outside/model.onnx") : modelFile;
        EditManifest(folder, json => json["modelFile"] = value);

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Equal(Path.Combine(folder, ModelManifest.FileName), error.Path);
        Assert.Contains($"'modelFile' must be a relative path inside the model folder, got '{value}'", error.Message);
    }

    [Fact]
    public void Load_ModelFileSymlinkLeavingTheFolder_Refused()
    {
        var folder = TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("m"));
        File.Move(Path.Combine(folder, "model.onnx"), _temp.Sub("elsewhere.onnx"));
        File.CreateSymbolicLink(Path.Combine(folder, "model.onnx"), _temp.Sub("elsewhere.onnx"));

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Contains("symbolic link 'model.onnx'", error.Message);
        Assert.Contains("outside the model folder", error.Message);
    }

    [Fact]
    public void Load_ModelFileThroughDirectorySymlinkLeavingTheFolder_Refused()
    {
        var folder = TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("m"));
        Directory.CreateDirectory(_temp.Sub("weights"));
        File.Move(Path.Combine(folder, "model.onnx"), _temp.Sub("weights/model.onnx"));
        Directory.CreateSymbolicLink(Path.Combine(folder, "onnx"), _temp.Sub("weights"));
        EditManifest(folder, json => json["modelFile"] = "onnx/model.onnx");

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Contains("symbolic link 'onnx'", error.Message);
    }

    [Fact]
    public void Load_SymlinkInsideTheFolder_Loads()
    {
        var folder = TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("m"));
        File.Move(Path.Combine(folder, "model.onnx"), Path.Combine(folder, "weights.onnx"));
        File.CreateSymbolicLink(Path.Combine(folder, "model.onnx"), "weights.onnx");

        using var model = OnnxLanguageModel.Load(folder);

        Assert.Equal(260, model.VocabularySize);
    }

    [Fact]
    public void Load_TokenizerFileOutsideTheFolder_Refused()
    {
        var folder = TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("m"));
        File.WriteAllText(_temp.Sub("tokenizer.json"), "{}");
        EditManifest(folder, json =>
        {
            json["tokenizer"] = "hf-tokenizer-json";
            json["tokenizerFile"] = "../tokenizer.json";
        });

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Contains("'tokenizerFile' must be a relative path inside the model folder, got '../tokenizer.json'", error.Message);
    }

    [Fact]
    public void Load_ModelFileInASubfolder_LoadsAndTheFolderHashCoversIt()
    {
        var folder = TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("m"));
        Directory.CreateDirectory(Path.Combine(folder, "onnx"));
        File.Move(Path.Combine(folder, "model.onnx"), Path.Combine(folder, "onnx", "model.onnx"));
        EditManifest(folder, json => json["modelFile"] = "onnx/model.onnx");

        using (var model = OnnxLanguageModel.Load(folder))
        {
            Assert.Equal(Path.Combine(folder, "onnx", "model.onnx"), model.ModelPath);
        }

        var before = ModelFolderHash.Compute(folder);
        Assert.Contains(before.Files, f => f.Path == "onnx/model.onnx");
        File.AppendAllText(Path.Combine(folder, "onnx", "model.onnx"), "x");
        Assert.NotEqual(before.Sha256, ModelFolderHash.Compute(folder).Sha256);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    public void Load_EmptyOrTruncatedModelFile_ThrowsNamingTheFile(int keepBytes)
    {
        var folder = TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("m"));
        var path = Path.Combine(folder, "model.onnx");
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..keepBytes]);

        var error = Assert.Throws<ModelLoadException>(() => OnnxLanguageModel.Load(folder));

        Assert.Equal(path, error.Path);
    }

    private static void EditManifest(string folder, Action<JsonObject> edit)
    {
        var path = Path.Combine(folder, ModelManifest.FileName);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }
}
