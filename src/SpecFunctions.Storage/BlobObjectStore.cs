using System.Runtime.CompilerServices;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage;

/// <summary>
/// <see cref="IObjectStore"/> on one Azure Blob Storage container (Azurite locally). Staged writes stage blocks and
/// publish them with one Put Block List, so a blob appears whole or not at all; conditional writes use ETags
/// (<c>If-Match</c>, <c>If-None-Match: *</c>). Transient failures are retried by the SDK pipeline
/// (<see cref="CreateClientOptions"/>); the rest become <see cref="TraceStoreException"/> or
/// <see cref="ObjectConflictException"/> by their error code. The container is created once, on the first write.
/// </summary>
/// <remarks>
/// Its parts: this file (the <see cref="IObjectStore"/> operations), <c>BlobObjectStore.Clients.cs</c> (client options
/// and factories), <c>BlobObjectStore.Errors.cs</c> (SDK failures as <see cref="TraceStoreException"/>),
/// <see cref="StagedBlob"/> (the staged write) and <see cref="UnresponsiveNoticePolicy"/> (the slow-storage notice).
/// </remarks>
public sealed partial class BlobObjectStore : IObjectStore
{
    private readonly BlobContainerClient _container;
    private readonly int _blockSize;
    private readonly SemaphoreSlim _containerGate = new(1, 1);
    private volatile bool _containerReady;

    /// <summary>The test seam and the DI constructor: any configured container client (singleton).</summary>
    /// <param name="blockSizeBytes">Staged block size, bytes. Default 4 MiB.</param>
    public BlobObjectStore(BlobContainerClient container, int blockSizeBytes = 4 * 1024 * 1024)
    {
        _container = container ?? throw new ArgumentNullException(nameof(container));
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSizeBytes, 1024);
        _blockSize = blockSizeBytes;
    }

    /// <summary>
    /// The container URI without its query: a client built from a SAS connection string carries the token
    /// (<c>?sv=…&amp;sig=…</c>) in its URI, and this string goes into messages, logs and stored plans.
    /// </summary>
    public string Location => WithoutQuery(_container.Uri);

    private static string WithoutQuery(Uri uri) => uri.IsAbsoluteUri ? uri.GetLeftPart(UriPartial.Path) : uri.ToString().Split('?', 2)[0];

    public async Task<IStagedObject> OpenStagedWriteAsync(string path, CancellationToken cancellationToken = default)
    {
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        return new StagedBlob(this, _container.GetBlockBlobClient(path), path, _blockSize);
    }

    public async Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _container.GetBlobClient(path)
                .OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { BufferSize = _blockSize }, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (IsNotFound(ex))
        {
            return null;
        }
        catch (Exception ex) when (IsStorageFailure(ex))
        {
            throw Translate(ex, "read", path);
        }
    }

    public async Task<VersionedContent?> ReadVersionedAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            var result = await _container.GetBlobClient(path).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return new VersionedContent(result.Value.Content.ToMemory(), result.Value.Details.ETag.ToString());
        }
        catch (RequestFailedException ex) when (IsNotFound(ex))
        {
            return null;
        }
        catch (Exception ex) when (IsStorageFailure(ex))
        {
            throw Translate(ex, "read", path);
        }
    }

    public async Task<string> WriteConditionalAsync(string path, ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken = default)
    {
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var options = new BlobUploadOptions
        {
            Conditions = ifMatch is null
                ? new BlobRequestConditions { IfNoneMatch = ETag.All }
                : new BlobRequestConditions { IfMatch = new ETag(ifMatch) },
            HttpHeaders = new BlobHttpHeaders { ContentType = ContentTypeOf(path) },
        };
        try
        {
            var result = await _container.GetBlobClient(path).UploadAsync(BinaryData.FromBytes(content), options, cancellationToken).ConfigureAwait(false);
            return result.Value.ETag.ToString();
        }
        catch (RequestFailedException ex) when (
            ex.ErrorCode is "ConditionNotMet" or "BlobAlreadyExists" || ex.Status is 409 or 412)
        {
            throw new ObjectConflictException(path, ex);
        }
        catch (Exception ex) when (IsStorageFailure(ex))
        {
            throw Translate(ex, "write", path);
        }
    }

    public async Task DeleteAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            await _container.GetBlobClient(path).DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (IsNotFound(ex))
        {
            // Nothing to delete.
        }
        catch (Exception ex) when (IsStorageFailure(ex))
        {
            throw Translate(ex, "delete", path);
        }
    }

    public async IAsyncEnumerable<string> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var entry in ListEntriesAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            yield return entry.Path;
        }
    }

    public async IAsyncEnumerable<ObjectEntry> ListEntriesAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var pages = _container.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, cancellationToken).AsPages().GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                Page<BlobItem> page;
                try
                {
                    if (!await pages.MoveNextAsync().ConfigureAwait(false))
                    {
                        yield break;
                    }

                    page = pages.Current;
                }
                catch (RequestFailedException ex) when (ex.ErrorCode == "ContainerNotFound")
                {
                    yield break;
                }
                catch (Exception ex) when (IsStorageFailure(ex))
                {
                    throw Translate(ex, "list", prefix);
                }

                foreach (var item in page.Values)
                {
                    var modified = item.Properties.LastModified ?? DateTimeOffset.MinValue;
                    yield return new ObjectEntry(item.Name, modified);
                }
            }
        }
        finally
        {
            await pages.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        if (_containerReady)
        {
            return;
        }

        await _containerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_containerReady)
            {
                return;
            }

            try
            {
                await _container.CreateAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException ex) when (ex.ErrorCode == "ContainerAlreadyExists")
            {
                // Created earlier, by us or another process.
            }
            catch (Exception ex) when (IsStorageFailure(ex))
            {
                throw Translate(ex, "create container", string.Empty);
            }

            _containerReady = true;
        }
        finally
        {
            _containerGate.Release();
        }
    }

    internal static string ContentTypeOf(string path) => Path.GetExtension(path) switch
    {
        ".json" => "application/json",
        ".html" => "text/html; charset=utf-8",
        ".csv" => "text/csv; charset=utf-8",
        ".gz" => "application/gzip",
        _ => "application/octet-stream",
    };
}
