using System.Text.Json;

namespace SpecFunctions.Demo.Pairs;

/// <summary>The cache stamp of a model pair: what <see cref="ModelPairCache"/> compares is <see cref="Key"/>; the rest is the pair's own record.</summary>
public interface IModelPairStamp
{
    /// <summary>The cache key the folders were built for (a content hash of code version, seed, corpus and settings).</summary>
    string Key { get; }
}

/// <summary>
/// The on-disk cache both demo pairs share (stamp → stage → publish): <c>root/verifier</c> and <c>root/drafter</c> are
/// reused while the stamp file names the same key and every expected file is there; otherwise both are trained into a
/// staging folder beside them, swapped in, and the stamp written last, so a crash or a cancel never leaves a stale hit.
/// </summary>
public static class ModelPairCache
{
    /// <summary>Name of the verifier's folder under the root.</summary>
    public const string VerifierFolder = "verifier";

    /// <summary>Name of the drafter's folder under the root.</summary>
    public const string DrafterFolder = "drafter";

    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    /// <summary>
    /// Makes sure <paramref name="root"/> holds the pair for <paramref name="key"/>. When it does not,
    /// <paramref name="trainAndWrite"/> runs on the thread pool with a fresh staging folder and must write
    /// <c>staging/verifier</c> and <c>staging/drafter</c>; it returns the stamp to record.
    /// </summary>
    /// <param name="root">The pair's root folder (created when missing).</param>
    /// <param name="stampFileName">The stamp file's name under the root.</param>
    /// <param name="key">The cache key of the wanted pair.</param>
    /// <param name="files">Files each model folder must hold for a cache hit.</param>
    /// <param name="trainAndWrite">Trains and writes both folders into the staging folder it is given.</param>
    /// <param name="cancellationToken">Cancels the training; nothing is published then.</param>
    /// <returns>The stamp (the recorded one when reused) and whether the folders were reused.</returns>
    public static async Task<(TStamp Stamp, bool Reused)> EnsureAsync<TStamp>(
        string root,
        string stampFileName,
        string key,
        IReadOnlyList<string> files,
        Func<string, TStamp> trainAndWrite,
        CancellationToken cancellationToken = default)
        where TStamp : class, IModelPairStamp
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(trainAndWrite);
        var stampPath = Path.Combine(root, stampFileName);
        if (ReadStamp<TStamp>(stampPath) is { } cached && cached.Key == key
            && new[] { VerifierFolder, DrafterFolder }.All(m => files.All(f => File.Exists(Path.Combine(root, m, f)))))
        {
            return (cached, true);
        }

        // Write beside the final folders, then swap them in; the stamp comes last so a crash leaves no stale hit.
        Directory.CreateDirectory(root);
        File.Delete(stampPath);
        var staging = StagedFolders.Create(root, key[..16]);
        TStamp stamp;
        try
        {
            stamp = await Task.Run(() => trainAndWrite(staging), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Directory.Delete(staging, recursive: true);
            throw;
        }

        StagedFolders.Publish(
            staging,
            (Path.Combine(staging, VerifierFolder), Path.Combine(root, VerifierFolder)),
            (Path.Combine(staging, DrafterFolder), Path.Combine(root, DrafterFolder)));
        await File.WriteAllTextAsync(stampPath, JsonSerializer.Serialize(stamp, IndentedJson), cancellationToken).ConfigureAwait(false);
        return (stamp, false);
    }

    private static TStamp? ReadStamp<TStamp>(string path)
        where TStamp : class
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<TStamp>(File.ReadAllText(path));
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
