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
    /// The MGSM folder: <c>$SPECFN_MGSM_DIR</c> if set, else <c>../shared/data/mgsm</c> from the repository root, else
    /// the same from the folder above it (a git worktree under <c>wt/</c>). Null when none exists.
    /// </summary>
    public static string? MgsmFolder
    {
        get
        {
            var fromEnvironment = Environment.GetEnvironmentVariable("SPECFN_MGSM_DIR");
            if (!string.IsNullOrEmpty(fromEnvironment))
            {
                return fromEnvironment;
            }

            string[] candidates =
            [
                Path.Combine(RepositoryRoot, "..", "shared", "data", "mgsm"),
                Path.Combine(RepositoryRoot, "..", "..", "shared", "data", "mgsm"),
            ];
            return candidates.Select(Path.GetFullPath).FirstOrDefault(Directory.Exists);
        }
    }

    /// <summary>The repository root: the folder above the test binaries that holds SpecFunctions.sln.</summary>
    public static string RepositoryRoot
    {
        get
        {
            var folder = new DirectoryInfo(AppContext.BaseDirectory);
            while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "SpecFunctions.sln")))
            {
                folder = folder.Parent;
            }

            return folder?.FullName ?? throw new InvalidOperationException($"No SpecFunctions.sln above {AppContext.BaseDirectory}.");
        }
    }
}
