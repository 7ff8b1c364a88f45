namespace SpecFunctions.Orchestration.Tests;

// The catalog's models root lists export folders (genai_config.json, optimum's config.json) as well as manifest folders.
public sealed class ModelCatalogTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("specfn-catalog-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("manifest", "specfn-model.json", true)]
    [InlineData("model-builder", "genai_config.json", true)]
    [InlineData("optimum", "config.json", true)]
    [InlineData("weights-only", "model.onnx", false)]
    public void IsKnown_RootSubfolder_ByWhatItHolds(string name, string file, bool known)
    {
        Directory.CreateDirectory(Path.Combine(_root, name));
        File.WriteAllText(Path.Combine(_root, name, file), "{}");
        var catalog = new ModelCatalog(new Dictionary<string, string>(), _root);

        Assert.Equal(known, catalog.IsKnown(name));
        if (known)
        {
            Assert.Equal(Path.Combine(_root, name), catalog.GetFolder(name));
        }
        else
        {
            Assert.Throws<KeyNotFoundException>(() => catalog.GetFolder(name));
        }
    }
}
