using SpecFunctions.Demo;

namespace SpecFunctions.Demo.Tests;

[Collection(DemoModelsCollection.Name)]
public sealed class DemoModelsTests(DemoModelsFixture fixture)
{
    [Fact]
    public async Task EnsureAsync_SecondCallSameInputs_ReusesFoldersUntouched()
    {
        var onnx = Path.Combine(fixture.Paths.VerifierDirectory, "model.onnx");
        var written = File.GetLastWriteTimeUtc(onnx);

        var again = await DemoModels.EnsureAsync(fixture.Root, DemoModelsFixture.Seed);

        Assert.True(again.Reused);
        Assert.False(fixture.Paths.Reused);
        Assert.Equal(fixture.Paths.CacheKey, again.CacheKey);
        Assert.Equal(written, File.GetLastWriteTimeUtc(onnx));
        Assert.Equal(TimeSpan.Zero, again.VerifierTrainingTime);
    }

    [Fact]
    public void EnsureAsync_FirstCall_TrainedBothModelsIntoTheirFolders()
    {
        Assert.Equal(Path.Combine(fixture.Root, "verifier"), fixture.Paths.VerifierDirectory);
        Assert.Equal(Path.Combine(fixture.Root, "drafter"), fixture.Paths.DrafterDirectory);
        Assert.True(fixture.Paths.VerifierTrainingTime > TimeSpan.Zero);
        Assert.Equal(DemoModelConfig.Verifier, fixture.Verifier.Config with { HiddenSizes = DemoModelConfig.Verifier.HiddenSizes });
        Assert.Equal(DemoModelConfig.Verifier.HiddenSizes, fixture.Verifier.Config.HiddenSizes);
        Assert.Equal(DemoModelConfig.Drafter.Window, fixture.Drafter.Config.Window);
    }

    [Fact]
    public void LoadWeights_FolderWithoutWeights_ThrowsNamingFolder()
    {
        var folder = Path.Combine(fixture.Root, "empty");
        Directory.CreateDirectory(folder);

        var error = Assert.Throws<FileNotFoundException>(() => DemoModels.LoadWeights(folder));

        Assert.Contains(folder, error.Message);
    }
}
