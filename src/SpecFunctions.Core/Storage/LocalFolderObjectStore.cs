using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace SpecFunctions.Core.Storage;

/// <summary>
/// <see cref="IObjectStore"/> in a local folder, with the blob store's semantics: staged writes go to a temporary file
/// and become visible by an atomic rename; conditional writes compare the file's content hash (its "ETag") under an
/// exclusive lock file, so concurrent writers, in this process or others, serialise.
/// </summary>
public sealed class LocalFolderObjectStore : IObjectStore
{
    private const string TempSuffix = ".specfn-tmp";
    private const string LockSuffix = ".specfn-lock";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    private readonly string _root;

    /// <param name="root">Folder of the store; created on first write.</param>
    public LocalFolderObjectStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        _root = Path.GetFullPath(root);
    }

    public string Location => _root;

    public Task<IStagedObject> OpenStagedWriteAsync(string path, CancellationToken cancellationToken = default)
    {
        var final = Resolve(path);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        var temp = $"{final}.{Guid.NewGuid():N}{TempSuffix}";
        var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024);
        return Task.FromResult<IStagedObject>(new StagedFile(stream, temp, final));
    }

    public Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            Stream stream = new FileStream(Resolve(path), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 64 * 1024, useAsync: true);
            return Task.FromResult<Stream?>(stream);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    public async Task<VersionedContent?> ReadVersionedAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            var bytes = await File.ReadAllBytesAsync(Resolve(path), cancellationToken).ConfigureAwait(false);
            return new VersionedContent(bytes, VersionOf(bytes));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public async Task<string> WriteConditionalAsync(string path, ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken = default)
    {
        var final = Resolve(path);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        using var fileLock = await AcquireLockAsync(final + LockSuffix, cancellationToken).ConfigureAwait(false);

        string? currentVersion = null;
        if (File.Exists(final))
        {
            currentVersion = VersionOf(await File.ReadAllBytesAsync(final, cancellationToken).ConfigureAwait(false));
        }

        if (currentVersion != ifMatch)
        {
            throw new ObjectConflictException(path);
        }

        // Rename, not overwrite in place: a reader without the lock sees the old or the new file, never half of one.
        var temp = $"{final}.{Guid.NewGuid():N}{TempSuffix}";
        await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096))
        {
            await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, final, overwrite: true);
        RemoveAbandonedStaging(final);
        return VersionOf(content.Span);
    }

    public Task DeleteAsync(string path, CancellationToken cancellationToken = default)
    {
        File.Delete(Resolve(path));
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<string> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        if (!Directory.Exists(_root))
        {
            yield break;
        }

        // Start at the deepest folder named by the prefix instead of walking the whole store.
        var slash = prefix.LastIndexOf('/');
        var start = slash < 0 ? _root : Resolve(prefix[..slash]);
        if (!Directory.Exists(start))
        {
            yield break;
        }

        var paths = Directory.EnumerateFiles(start, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(TempSuffix, StringComparison.Ordinal) && !f.EndsWith(LockSuffix, StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(_root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(p => p.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return path;
        }
    }

    public async IAsyncEnumerable<ObjectEntry> ListEntriesAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var path in ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            var file = new FileInfo(Resolve(path));
            if (!file.Exists)
            {
                continue;
            }

            yield return new ObjectEntry(path, new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero));
        }
    }

    /// <summary>
    /// Deletes the staging files of <paramref name="final"/> that an interrupted writer left behind (a process killed
    /// between open and commit). A staging file still open by a live writer is locked (FileShare.None) and kept.
    /// </summary>
    internal static void RemoveAbandonedStaging(string final)
    {
        var folder = Path.GetDirectoryName(final)!;
        foreach (var staging in Directory.EnumerateFiles(folder, Path.GetFileName(final) + ".*" + TempSuffix))
        {
            try
            {
                // Opening it exclusively proves no writer holds it; DeleteOnClose removes it while we hold the lock.
                using var abandoned = new FileStream(staging, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // In use by a live writer, or already gone: not ours to remove.
            }
        }
    }

    private static string VersionOf(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private string Resolve(string path)
    {
        // Paths come from TraceStoreLayout (validated ids); this check keeps a bug there from escaping the root.
        var full = Path.GetFullPath(Path.Combine(_root, path.Replace('/', Path.DirectorySeparatorChar)));
        if (!full.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new TraceStoreException($"object path '{path}' leaves the store folder {_root}");
        }

        return full;
    }

    private static async Task<FileStream> AcquireLockAsync(string lockPath, CancellationToken cancellationToken)
    {
        // FileShare.None takes an exclusive advisory lock (flock) on Unix and a share-mode lock on Windows; the lock
        // file is never deleted, since deleting it would let two writers lock two different files of one name.
        var deadline = DateTime.UtcNow + LockTimeout;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(Math.Min(20, 1 + attempt), cancellationToken).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw new TraceStoreException($"could not lock '{lockPath}' within {LockTimeout.TotalSeconds} s", ex);
            }
        }
    }

    private sealed class StagedFile(FileStream stream, string tempPath, string finalPath) : IStagedObject
    {
        private bool _committed;

        public Stream Stream => stream;

        public async Task CommitAsync(CancellationToken cancellationToken = default)
        {
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            // Durable before visible: the rename must not publish a file whose bytes are still only in the page cache.
            stream.Flush(flushToDisk: true);
            await stream.DisposeAsync().ConfigureAwait(false);
            File.Move(tempPath, finalPath, overwrite: true);
            _committed = true;
            RemoveAbandonedStaging(finalPath);
        }

        public async ValueTask DisposeAsync()
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            if (!_committed)
            {
                File.Delete(tempPath);
            }
        }
    }
}
