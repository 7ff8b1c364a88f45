using System.Runtime.CompilerServices;
using System.Text;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
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
public sealed class BlobObjectStore : IObjectStore
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

    /// <summary>How long an attempt may go unanswered before <c>onUnresponsive</c> is told. 3 s.</summary>
    public static TimeSpan UnresponsiveNoticeAfter { get; } = TimeSpan.FromSeconds(3);

    /// <summary>The SDK options used by the factories: exponential retries as configured.</summary>
    /// <param name="options">Retry counts, delays and the per-attempt network timeout.</param>
    /// <param name="onUnresponsive">
    /// Called once per client, the first time a request is retried or an attempt has waited
    /// <see cref="UnresponsiveNoticeAfter"/> without an answer, so that a caller can say it is still trying; the SDK's own
    /// retry policy does the retrying.
    /// </param>
    public static BlobClientOptions CreateClientOptions(BlobTraceStoreOptions options, Action? onUnresponsive = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clientOptions = new BlobClientOptions();
        clientOptions.Retry.Mode = RetryMode.Exponential;
        clientOptions.Retry.MaxRetries = options.MaxRetries;
        clientOptions.Retry.Delay = options.RetryDelay;
        clientOptions.Retry.MaxDelay = options.MaxRetryDelay;
        clientOptions.Retry.NetworkTimeout = options.NetworkTimeout;
        if (onUnresponsive is not null)
        {
            clientOptions.AddPolicy(new UnresponsiveNoticePolicy(onUnresponsive, UnresponsiveNoticeAfter), HttpPipelinePosition.PerRetry);
        }

        return clientOptions;
    }

    /// <summary>
    /// The longest a request can take before it fails for good with these options: every attempt timing out, with the
    /// longest delay between attempts.
    /// </summary>
    public static TimeSpan MaxRequestTime(BlobTraceStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var delays = TimeSpan.Zero;
        for (var retry = 0; retry < options.MaxRetries; retry++)
        {
            var exponential = options.RetryDelay * Math.Pow(2, retry);
            delays += exponential < options.MaxRetryDelay ? exponential : options.MaxRetryDelay;
        }

        return (options.NetworkTimeout * (options.MaxRetries + 1)) + delays;
    }

    private static string WithoutQuery(Uri uri) => uri.IsAbsoluteUri ? uri.GetLeftPart(UriPartial.Path) : uri.ToString().Split('?', 2)[0];

    /// <summary>
    /// A container client from <see cref="BlobTraceStoreOptions.ConnectionString"/>, else from
    /// <see cref="BlobTraceStoreOptions.ServiceUri"/> with <paramref name="credential"/> (default
    /// <see cref="DefaultAzureCredential"/>: managed identity in Azure, developer sign-in locally).
    /// </summary>
    public static BlobContainerClient CreateContainerClient(BlobTraceStoreOptions options, TokenCredential? credential = null, BlobClientOptions? clientOptions = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        clientOptions ??= CreateClientOptions(options);
        BlobServiceClient service;
        if (!string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            try
            {
                service = new BlobServiceClient(options.ConnectionString, clientOptions);
            }
            catch (FormatException ex)
            {
                // The message must not echo the connection string: it may hold an account key.
                throw new TraceStoreException("the blob connection string is malformed (expected UseDevelopmentStorage=true or key=value pairs such as AccountName, AccountKey, BlobEndpoint)", ex);
            }
        }
        else if (options.ServiceUri is not null)
        {
            service = new BlobServiceClient(options.ServiceUri, credential ?? new DefaultAzureCredential(), clientOptions);
        }
        else
        {
            throw new TraceStoreException("blob trace store needs a connection string or a service URI");
        }

        return service.GetBlobContainerClient(options.ContainerName);
    }

    /// <summary>A blob-backed <see cref="TraceStore"/> from options.</summary>
    /// <param name="options">The store's settings.</param>
    /// <param name="credential">Used with <see cref="BlobTraceStoreOptions.ServiceUri"/>; default <see cref="DefaultAzureCredential"/>.</param>
    /// <param name="storeOptions">Trace store tuning.</param>
    /// <param name="onUnresponsive">See <see cref="CreateClientOptions"/>.</param>
    public static TraceStore CreateTraceStore(
        BlobTraceStoreOptions options, TokenCredential? credential = null, TraceStoreOptions? storeOptions = null, Action? onUnresponsive = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(new BlobObjectStore(CreateContainerClient(options, credential, CreateClientOptions(options, onUnresponsive)), options.BlockSizeBytes), storeOptions);
    }

    /// <summary>A blob-backed <see cref="TraceStore"/> from a connection string (e.g. <c>UseDevelopmentStorage=true</c>).</summary>
    public static TraceStore CreateTraceStore(string connectionString, string containerName = TraceStoreLayout.DefaultContainerName) =>
        CreateTraceStore(new BlobTraceStoreOptions { ConnectionString = connectionString, ContainerName = containerName });

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

    /// <summary>What the SDK raises for a failed call: an HTTP answer, no answer on any attempt, or no token.</summary>
    private static bool IsStorageFailure(Exception ex) =>
        ex is RequestFailedException or AuthenticationFailedException
        || (ex is AggregateException aggregate && aggregate.InnerExceptions.All(e => e is RequestFailedException or TaskCanceledException or TimeoutException));

    /// <summary>A <see cref="IsStorageFailure"/> exception as a <see cref="TraceStoreException"/> naming the operation and blob.</summary>
    private TraceStoreException Translate(Exception ex, string operation, string path) => ex switch
    {
        RequestFailedException failed => Map(failed, operation, path),
        AggregateException unreachable => MapUnreachable(unreachable, operation, path),
        AuthenticationFailedException credential => MapCredential(credential),
        _ => throw new ArgumentException($"not a storage failure: {ex.GetType()}", nameof(ex)),
    };

    private static bool IsNotFound(RequestFailedException ex) =>
        ex.ErrorCode is "BlobNotFound" or "ContainerNotFound" || ex.Status == 404;

    private TraceStoreException Map(RequestFailedException ex, string operation, string path)
    {
        var target = path.Length == 0 ? Location : $"'{path}' in {Location}";
        if (ex.Status == 403 || ex.ErrorCode is "AuthorizationFailure" or "AuthorizationPermissionMismatch" or "AuthenticationFailed")
        {
            return new TraceStoreException(
                $"blob storage denied {operation} of {target} ({Describe(ex)}): with a managed identity grant it " +
                "'Storage Blob Data Contributor' on the account or container; with a connection string check its key or SAS", ex);
        }

        if (ex.ErrorCode == "ContainerNotFound")
        {
            // Deleted behind our back: create it again on the next write.
            _containerReady = false;
        }

        var reason = ex.Status == 0 ? ex.Message.Split('\n')[0] : Describe(ex);
        return new TraceStoreException($"blob storage {operation} of {target} failed: {reason}", ex);
    }

    // The SDK reports a request that failed on every attempt without an HTTP answer (connection refused, DNS, timeout)
    // as an AggregateException of one exception per attempt: RequestFailedException (status 0), or TaskCanceledException
    // when the attempt ran past NetworkTimeout.
    private TraceStoreException MapUnreachable(AggregateException ex, string operation, string path)
    {
        var target = path.Length == 0 ? Location : $"'{path}' in {Location}";
        var last = ex.InnerExceptions[^1];
        return last is RequestFailedException { Status: > 0 } answered
            ? Map(answered, operation, path)
            : new TraceStoreException(
                $"blob storage could not be reached for {operation} of {target} after {ex.InnerExceptions.Count} attempts: {last.Message.Split('\n')[0]}", ex);
    }

    private static string Describe(RequestFailedException ex) =>
        string.IsNullOrEmpty(ex.ErrorCode) ? $"HTTP {ex.Status}" : $"HTTP {ex.Status} {ex.ErrorCode}";

    private TraceStoreException MapCredential(AuthenticationFailedException ex) =>
        new($"could not get a token for {Location}: {ex.Message.Split('\n')[0]}", ex);

    private static string ContentTypeOf(string path) => Path.GetExtension(path) switch
    {
        ".json" => "application/json",
        ".html" => "text/html; charset=utf-8",
        ".csv" => "text/csv; charset=utf-8",
        ".gz" => "application/gzip",
        _ => "application/octet-stream",
    };

    /// <summary>
    /// Per attempt: tells the caller once that storage is slow to answer (an attempt past the notice delay, or a retry).
    /// It observes only; the retries themselves are the SDK's.
    /// </summary>
    private sealed class UnresponsiveNoticePolicy(Action notify, TimeSpan noticeAfter) : HttpPipelinePolicy
    {
        private int _notified;

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            using var answered = Watch(message);
            try
            {
                await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
            }
            finally
            {
                await answered.CancelAsync().ConfigureAwait(false);
            }
        }

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            using var answered = Watch(message);
            try
            {
                ProcessNext(message, pipeline);
            }
            finally
            {
                answered.Cancel();
            }
        }

        /// <summary>Notices a retry at once, and an attempt still unanswered after the delay unless the returned source is cancelled first.</summary>
        private CancellationTokenSource Watch(HttpMessage message)
        {
            if (message.ProcessingContext.RetryNumber > 0)
            {
                Notify();
            }

            var answered = new CancellationTokenSource();
            _ = Task.Delay(noticeAfter, answered.Token).ContinueWith(
                _ => Notify(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            return answered;
        }

        private void Notify()
        {
            if (Interlocked.Exchange(ref _notified, 1) == 0)
            {
                notify();
            }
        }
    }

    /// <summary>Buffers one block, stages it when full (synchronously for sync writes), commits the block list at the end.</summary>
    private sealed class StagedBlob : Stream, IStagedObject
    {
        private readonly BlobObjectStore _owner;
        private readonly BlockBlobClient _blob;
        private readonly string _path;
        private readonly byte[] _buffer;
        private readonly List<string> _blockIds = [];
        private readonly string _session = Guid.NewGuid().ToString("N");
        private int _filled;
        private bool _closed;

        public StagedBlob(BlobObjectStore owner, BlockBlobClient blob, string path, int blockSize)
        {
            _owner = owner;
            _blob = blob;
            _path = path;
            _buffer = new byte[blockSize];
        }

        public Stream Stream => this;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => !_closed;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            while (!buffer.IsEmpty)
            {
                var n = Math.Min(buffer.Length, _buffer.Length - _filled);
                buffer[..n].CopyTo(_buffer.AsSpan(_filled));
                _filled += n;
                buffer = buffer[n..];
                if (_filled == _buffer.Length)
                {
                    StageSync();
                }
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            while (!buffer.IsEmpty)
            {
                var n = Math.Min(buffer.Length, _buffer.Length - _filled);
                buffer[..n].CopyTo(_buffer.AsMemory(_filled));
                _filled += n;
                buffer = buffer[n..];
                if (_filled == _buffer.Length)
                {
                    await StageAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        // Blocks are staged when full; a flush must not stage small blocks (a blob holds at most 50 000).
        public override void Flush()
        {
        }

        public async Task CommitAsync(CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_filled > 0)
            {
                await StageAsync(cancellationToken).ConfigureAwait(false);
            }

            try
            {
                await _blob.CommitBlockListAsync(
                    _blockIds,
                    new CommitBlockListOptions { HttpHeaders = new BlobHttpHeaders { ContentType = ContentTypeOf(_path) } },
                    cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsStorageFailure(ex))
            {
                throw _owner.Translate(ex, "commit", _path);
            }

            _closed = true;
        }

        // Uncommitted blocks are invisible and expire in the service after 7 days; nothing to clean up here.
        public override ValueTask DisposeAsync()
        {
            _closed = true;
            return ValueTask.CompletedTask;
        }

        protected override void Dispose(bool disposing)
        {
            _closed = true;
            base.Dispose(disposing);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        // Block ids of one blob must all have the same length; an id joins the list only once its block is staged.
        private string NextBlockId() => Convert.ToBase64String(Encoding.ASCII.GetBytes($"{_session}-{_blockIds.Count:D6}"));

        private void StageSync()
        {
            var id = NextBlockId();
            try
            {
                using var content = new MemoryStream(_buffer, 0, _filled, writable: false);
                _blob.StageBlock(id, content);
                _blockIds.Add(id);
            }
            catch (Exception ex) when (IsStorageFailure(ex))
            {
                throw _owner.Translate(ex, "upload", _path);
            }

            _filled = 0;
        }

        private async Task StageAsync(CancellationToken cancellationToken)
        {
            var id = NextBlockId();
            try
            {
                using var content = new MemoryStream(_buffer, 0, _filled, writable: false);
                await _blob.StageBlockAsync(id, content, cancellationToken: cancellationToken).ConfigureAwait(false);
                _blockIds.Add(id);
            }
            catch (Exception ex) when (IsStorageFailure(ex))
            {
                throw _owner.Translate(ex, "upload", _path);
            }

            _filled = 0;
        }
    }
}
