using SpecFunctions.Core.Storage;

namespace SpecFunctions.Functions.Tests;

/// <summary>A real trace store on a temporary folder; <see cref="Files"/> shows everything ever written.</summary>
internal sealed class TestStore : IDisposable
{
    public TestStore()
    {
        Objects = new LocalFolderObjectStore(Folder);
        Store = new TraceStore(Objects);
    }

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "specfn-functions-" + Guid.NewGuid().ToString("N"));

    public LocalFolderObjectStore Objects { get; }

    public TraceStore Store { get; }

    public IReadOnlyList<string> Files =>
        Directory.Exists(Folder) ? [.. Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Folder, f))] : [];

    public void Dispose()
    {
        if (Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }
    }
}
