using SpecFunctions.Demo;

namespace SpecFunctions.Demo.Tests;

public sealed class DemoModelWeightsTests
{
    [Fact]
    public void SaveLoad_RoundTrip_SameParametersAndHash()
    {
        var weights = DemoModelWeights.CreateInitial(TestConfigs.Tiny(DemoFirstLayerExport.Gather), seed: 4);
        using var buffer = new MemoryStream();
        weights.Save(buffer);
        buffer.Position = 0;

        var loaded = DemoModelWeights.Load(buffer);

        Assert.Equal(weights.Config.Window, loaded.Config.Window);
        Assert.Equal(weights.Config.HiddenSizes, loaded.Config.HiddenSizes);
        Assert.Equal(DemoFirstLayerExport.Gather, loaded.Config.FirstLayerExport);
        Assert.Equal(weights.Arrays().SelectMany(a => a), loaded.Arrays().SelectMany(a => a));
        Assert.Equal(weights.ComputeHash(), loaded.ComputeHash());
        Assert.Equal(DemoOnnxExporter.ExportToBytes(weights), DemoOnnxExporter.ExportToBytes(loaded));
    }

    [Fact]
    public void SizeInBytes_RealConfigs_InTheRangesTheDemoNeeds()
    {
        // The verifier must be memory-bound like an LLM (5–8 MB of float32), the drafter much smaller.
        Assert.InRange(DemoModelConfig.Verifier.ParameterCount * 4, 5_000_000, 8_000_000);
        Assert.True(DemoModelConfig.Drafter.ParameterCount * 5 < DemoModelConfig.Verifier.ParameterCount);
        Assert.Equal(DemoModelConfig.Verifier.ParameterCount, DemoModelWeights.CreateInitial(DemoModelConfig.Verifier, 1).Arrays().Sum(a => (long)a.Length));
    }

    [Fact]
    public void Load_BadMagic_ThrowsInvalidData()
    {
        using var buffer = new MemoryStream("NOPE00000000"u8.ToArray());

        var error = Assert.Throws<InvalidDataException>(() => DemoModelWeights.Load(buffer));

        Assert.Contains("magic", error.Message);
    }

    [Fact]
    public void Load_Truncated_ThrowsInvalidData()
    {
        using var buffer = new MemoryStream();
        DemoModelWeights.CreateInitial(TestConfigs.Tiny(), seed: 4).Save(buffer);
        var bytes = buffer.ToArray()[..^10];

        var error = Assert.Throws<InvalidDataException>(() => DemoModelWeights.Load(new MemoryStream(bytes)));

        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void Clone_ThenChange_OriginalUnchanged()
    {
        var weights = DemoModelWeights.CreateInitial(TestConfigs.Tiny(), seed: 4);
        var before = weights.ComputeHash();

        var copy = weights.Clone();
        copy.Table[0] += 1f;

        Assert.Equal(before, weights.ComputeHash());
        Assert.NotEqual(before, copy.ComputeHash());
    }

    [Fact]
    public void Config_ZeroWindow_ThrowsNamingModel()
    {
        var config = TestConfigs.Tiny() with { Window = 0 };

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => DemoModelWeights.CreateInitial(config, 1));

        Assert.Contains("'tiny'", error.Message);
    }
}
