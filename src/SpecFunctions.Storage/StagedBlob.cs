using System.Text;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage;

/// <summary>Buffers one block, stages it when full (synchronously for sync writes), commits the block list at the end.</summary>
internal sealed class StagedBlob : Stream, IStagedObject
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
                new CommitBlockListOptions { HttpHeaders = new BlobHttpHeaders { ContentType = BlobObjectStore.ContentTypeOf(_path) } },
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (BlobObjectStore.IsStorageFailure(ex))
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
        catch (Exception ex) when (BlobObjectStore.IsStorageFailure(ex))
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
        catch (Exception ex) when (BlobObjectStore.IsStorageFailure(ex))
        {
            throw _owner.Translate(ex, "upload", _path);
        }

        _filled = 0;
    }
}
