using SpecFunctions.Demo;

namespace SpecFunctions.Demo.Tests;

/// <summary>A tiny model and short training, for tests about mechanics (determinism, serialisation) rather than quality.</summary>
internal static class TestConfigs
{
    public static DemoModelConfig Tiny(DemoFirstLayerExport export = DemoFirstLayerExport.OneHotMatMul) => new()
    {
        Name = "tiny",
        Window = 6,
        HiddenSizes = [24, 16],
        FirstLayerExport = export,
    };

    public static DemoTrainingOptions Short { get; } = new() { Steps = 40, BatchSize = 16, ReportEvery = 10, ContextDropout = 0.2 };

    /// <summary>
    /// The MGSM folder, for tests marked <c>[Trait("Requires", "mgsm")]</c>: <c>$SPECFN_MGSM_DIR</c>, which must name an
    /// existing folder (the data is not part of the repository; nothing else is looked at). Fails the test otherwise.
    /// </summary>
    public static string MgsmFolder
    {
        get
        {
            var folder = Environment.GetEnvironmentVariable("SPECFN_MGSM_DIR");
            Assert.False(string.IsNullOrEmpty(folder), "SPECFN_MGSM_DIR is not set: this test needs the MGSM data (run with --filter \"Requires!=mgsm\" without it).");
            Assert.True(Directory.Exists(folder), $"SPECFN_MGSM_DIR is '{folder}' ({Path.GetFullPath(folder)}), which is not a folder.");
            return folder;
        }
    }
}
