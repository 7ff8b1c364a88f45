namespace SpecFunctions.Demo.Pairs;

/// <summary>
/// Model folders written beside their final place and moved in last, so that an interrupted write never leaves a folder
/// that looks complete. Shared by both demo pairs' caches and both in-process drafter trainers.
/// </summary>
public static class StagedFolders
{
    /// <summary>A fresh, empty <c>root/.staging-{name}</c>; one left by an interrupted run is removed first.</summary>
    public static string Create(string root, string name)
    {
        var staging = Path.Combine(root, ".staging-" + name);
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        Directory.CreateDirectory(staging);
        return staging;
    }

    /// <summary>Moves each staged folder over its target (an existing target is replaced), then deletes the staging folder.</summary>
    public static void Publish(string staging, params (string From, string To)[] moves)
    {
        foreach (var (from, to) in moves)
        {
            if (Directory.Exists(to))
            {
                Directory.Delete(to, recursive: true);
            }

            Directory.Move(from, to);
        }

        Directory.Delete(staging, recursive: true);
    }

    /// <summary>
    /// Writes the new folder <c>parent/name</c> through <paramref name="write"/> into a uniquely named staging folder beside
    /// it and renames that last; the staging folder is removed whatever happens. Returns the new folder.
    /// </summary>
    public static string WriteNew(string parent, string name, Action<string> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        var target = Path.Combine(parent, name);
        var staging = Path.Combine(parent, ".staging-" + name + "-" + Guid.NewGuid().ToString("N"));
        try
        {
            write(staging);
            cancellationToken.ThrowIfCancellationRequested();
            Directory.Move(staging, target);
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }

        return target;
    }
}
