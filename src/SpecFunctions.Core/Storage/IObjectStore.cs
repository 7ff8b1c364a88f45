namespace SpecFunctions.Core.Storage;

/// <summary>
/// The few object-storage primitives the <see cref="TraceStore"/> needs. Implemented by a local folder
/// (<see cref="LocalFolderObjectStore"/>) and by Azure Blob Storage (<c>SpecFunctions.Storage.BlobObjectStore</c>), so
/// both share one layout and one set of integrity rules. Paths are '/'-separated and built only by
/// <see cref="TraceStoreLayout"/> from validated ids; implementations may assume they are safe.
/// </summary>
public interface IObjectStore
{
    /// <summary>A short description for messages, e.g. the folder path or the container URI.</summary>
    string Location { get; }

    /// <summary>
    /// Opens a write whose content becomes visible at <paramref name="path"/> only when
    /// <see cref="IStagedObject.CommitAsync"/> succeeds; until then readers see the previous object or none.
    /// The returned stream is written synchronously (trace sinks are synchronous) and never holds the whole object.
    /// </summary>
    Task<IStagedObject> OpenStagedWriteAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Opens a committed object for streaming reads; null when it does not exist.</summary>
    Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Reads a small object whole with its version (ETag); null when it does not exist.</summary>
    Task<VersionedContent?> ReadVersionedAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes a small object whole if its current version is <paramref name="ifMatch"/>, or, when
    /// <paramref name="ifMatch"/> is null, only if it does not exist yet. Returns the new version.
    /// </summary>
    /// <exception cref="ObjectConflictException">The precondition failed (someone else wrote first).</exception>
    Task<string> WriteConditionalAsync(string path, ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken = default);

    /// <summary>Deletes the object if it exists.</summary>
    Task DeleteAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Paths of committed objects that start with <paramref name="prefix"/>, in ordinal order.</summary>
    IAsyncEnumerable<string> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>
    /// Committed objects that start with <paramref name="prefix"/>, in ordinal order, with the last-modified time the
    /// listing itself returns (blob properties, file times), so a caller can order objects without reading them.
    /// </summary>
    IAsyncEnumerable<ObjectEntry> ListEntriesAsync(string prefix, CancellationToken cancellationToken = default);
}

/// <summary>One listed object and the time of its last write, as the listing returns it (blob property, file time).</summary>
public sealed record ObjectEntry(string Path, DateTimeOffset LastModified);

/// <summary>An object being written; invisible to readers until committed. Disposing without commit discards it.</summary>
public interface IStagedObject : IAsyncDisposable
{
    /// <summary>Write-only stream; synchronous writes are supported.</summary>
    Stream Stream { get; }

    /// <summary>Flushes and publishes the object atomically. The stream must not be used afterwards.</summary>
    Task CommitAsync(CancellationToken cancellationToken = default);
}

/// <summary>A small object's bytes and its version (an ETag for blobs, a content hash for local files).</summary>
public sealed record VersionedContent(ReadOnlyMemory<byte> Content, string Version);

/// <summary>A conditional write lost a race: the object changed (or appeared) since it was read.</summary>
public sealed class ObjectConflictException(string path, Exception? inner = null)
    : Exception($"object '{path}' was changed by another writer", inner)
{
    public string Path { get; } = path;
}

/// <summary>A storage operation failed for a reason the caller should see (access denied, missing run, bad id, …).</summary>
public class TraceStoreException : Exception
{
    public TraceStoreException(string message)
        : base(message)
    {
    }

    public TraceStoreException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>The run (or its manifest) does not exist in the store.</summary>
public sealed class RunNotFoundException(string runId, string location)
    : TraceStoreException($"run '{runId}' not found in {location}")
{
    public string RunId { get; } = runId;
}

/// <summary>
/// A task's manifest entry says its trace was committed, but the trace object is gone from the store (deleted or lost
/// after the commit). Reports name such a task as failed instead of leaving it out.
/// </summary>
public sealed class TraceMissingException(string runId, string taskId, string path, string location)
    : TraceStoreException($"committed trace '{path}' of task '{taskId}' is missing from {location}")
{
    public string RunId { get; } = runId;

    public string TaskId { get; } = taskId;
}
