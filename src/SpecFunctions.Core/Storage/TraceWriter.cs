using System.IO.Compression;
using System.Text.Json;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Storage;

/// <summary>
/// Streams one task's trace as gzip-compressed JSON lines (<see cref="TraceJson"/>) into a staged object. Memory use
/// is bounded by the compressor and the storage block buffer, not by the trace length. Nothing is visible to readers
/// until <see cref="CommitAsync"/>; disposing without committing discards the upload (the task stays
/// <see cref="TaskState.Running"/>, so a re-run redoes it).
/// </summary>
public sealed class TraceWriter : ITraceSink, IAsyncDisposable
{
    private static readonly byte[] NewLine = [(byte)'\n'];

    private readonly TraceStore _owner;
    private readonly IStagedObject _staged;
    private readonly CountingStream _compressedCounter;
    private readonly GZipStream _gzip;
    private readonly CountingStream _uncompressedCounter;
    private readonly Utf8JsonWriter _json;
    private readonly Lock _gate = new();
    private readonly string? _attempt;
    private bool _completed;

    internal TraceWriter(
        TraceStore owner, string runId, string taskId, string contentKey, int prompts, IStagedObject staged, CompressionLevel level,
        ShardRange? shard = null, string? attempt = null)
    {
        Shard = shard;
        _attempt = attempt;
        _owner = owner;
        RunId = runId;
        TaskId = taskId;
        ContentKey = contentKey;
        Prompts = prompts;
        _staged = staged;
        _compressedCounter = new CountingStream(staged.Stream);
        _gzip = new GZipStream(_compressedCounter, level, leaveOpen: true);
        _uncompressedCounter = new CountingStream(_gzip);
        _json = new Utf8JsonWriter(_uncompressedCounter, new JsonWriterOptions { Encoder = TraceJson.Options.Encoder, SkipValidation = true });
    }

    public string RunId { get; }

    public string TaskId { get; }

    public string ContentKey { get; }

    public int Prompts { get; }

    /// <summary>The shard this writer writes (null: the task's whole trace).</summary>
    public ShardRange? Shard { get; }

    /// <summary>
    /// After <see cref="CommitAsync"/> of a shard: false when another attempt had already committed the same shard, so
    /// this part was discarded and the manifest kept the first one.
    /// </summary>
    public bool ShardRecorded { get; private set; }

    /// <summary>Records written so far.</summary>
    public long Records { get; private set; }

    /// <summary>Step records written so far.</summary>
    public long Steps { get; private set; }

    /// <summary>Uncompressed JSON bytes written so far (newlines included).</summary>
    public long UncompressedBytes => _uncompressedCounter.Count + _json.BytesPending;

    /// <summary>Writes one record as one line. Thread-safe; synchronous (blocks when a storage block is uploaded).</summary>
    public void Write(TraceRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            JsonSerializer.Serialize(_json, record, TraceJson.Options);
            _json.Flush();
            _json.Reset();
            _uncompressedCounter.Write(NewLine);
            Records++;
            if (record is StepTrace)
            {
                Steps++;
            }
        }
    }

    /// <summary>
    /// Finishes the gzip stream, publishes the trace atomically, then marks the task committed in the manifest and
    /// indexes its content key. The manifest entry is written last: a crash before it leaves the trace unreferenced.
    /// A shard's part is recorded among the task's shards instead (<see cref="TraceStore.RecordShardCommitAsync"/>); the
    /// task is committed, and its key indexed, with its last shard.
    /// </summary>
    public async Task<TaskEntry> CommitAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            _completed = true;
            _json.Flush();
            _json.Dispose();
            _gzip.Dispose();
        }

        try
        {
            await _staged.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await _staged.DisposeAsync().ConfigureAwait(false);
        }

        if (Shard is not null)
        {
            var shard = new ShardEntry
            {
                Index = Shard.Index,
                FirstPrompt = Shard.FirstPrompt,
                Prompts = Shard.Prompts,
                Attempt = _attempt!,
                Records = Records,
                Steps = Steps,
                CompressedBytes = _compressedCounter.Count,
                UncompressedBytes = _uncompressedCounter.Count,
                CommittedAt = DateTimeOffset.UtcNow,
            };
            var (entry, recorded) = await _owner.RecordShardCommitAsync(RunId, TaskId, ContentKey, Shard, shard, cancellationToken).ConfigureAwait(false);
            ShardRecorded = recorded;
            return entry;
        }

        var committed = new CommittedTrace
        {
            ContentKey = ContentKey,
            Trace = new TraceLocation { RunId = RunId, TaskId = TaskId },
            Records = Records,
            Steps = Steps,
            CompressedBytes = _compressedCounter.Count,
            UncompressedBytes = _uncompressedCounter.Count,
            Prompts = Prompts,
            CommittedAt = DateTimeOffset.UtcNow,
        };
        return await _owner.RecordCommitAsync(committed, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        bool abandon;
        lock (_gate)
        {
            abandon = !_completed;
            _completed = true;
        }

        if (abandon)
        {
            _json.Dispose();
            // The gzip trailer goes into the staged object, which is discarded: nothing becomes visible.
            try
            {
                _gzip.Dispose();
            }
            catch (Exception ex) when (ex is IOException or TraceStoreException)
            {
                // The upload is being abandoned anyway; a failing final block must not mask the caller's exception.
            }

            await _staged.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Pass-through write stream that counts bytes. It swallows Flush: Utf8JsonWriter flushes its stream after every
    /// record, and passing that on would make gzip emit a sync-flush block per record (worse compression) and the file
    /// stream issue a write per record. Data reaches storage when blocks fill and at commit.
    /// </summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Count { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => Count;
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Count += buffer.Length;
        }
    }
}
