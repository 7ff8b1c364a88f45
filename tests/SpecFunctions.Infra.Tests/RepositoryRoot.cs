namespace SpecFunctions.Infra.Tests;

/// <summary>Locates the repository root: the nearest directory above the test assembly holding SpecFunctions.sln.</summary>
internal static class RepositoryRoot
{
    private static readonly Lazy<string> _path = new(Find);

    /// <summary>Absolute path of the repository root.</summary>
    public static string Path => _path.Value;

    /// <summary>Absolute path of a file or folder given relative to the repository root.</summary>
    public static string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "SpecFunctions.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException(
            $"No SpecFunctions.sln found in '{AppContext.BaseDirectory}' or any folder above it.");
    }
}
