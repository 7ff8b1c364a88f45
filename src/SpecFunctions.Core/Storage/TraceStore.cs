using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Storage;

/// <summary>Tuning of <see cref="TraceStore"/>.</summary>
public sealed record TraceStoreOptions
{
    /// <summary>
    /// Gzip level of traces. Default <see cref="CompressionLevel.Fastest"/>: the writer runs inside the decode loop, so
    /// time per step matters more than bytes. Measured on 100 000 γ=4 steps with full-precision α/CE/KL (440 B/step of
    /// JSON): Fastest 222 B/step at 17–34 µs/step, Optimal 143 B/step at ~50 µs/step (busy 2-core machine).
    /// </summary>
    public CompressionLevel TraceCompression { get; init; } = CompressionLevel.Fastest;

    /// <summary>Attempts of a manifest compare-and-swap before giving up. Default 100.</summary>
    public int MaxManifestAttempts { get; init; } = 100;
}

/// <summary>
/// The trace store over any <see cref="IObjectStore"/> (local folder or blob container): one layout
/// (<see cref="TraceStoreLayout"/>) and one set of integrity rules for both.
/// </summary>
public sealed class TraceStore(IObjectStore objects, TraceStoreOptions? options = null) : ITraceStore
{
    private readonly TraceStoreOptions _options = options ?? new TraceStoreOptions();

    /// <summary>The underlying object store.</summary>
    public IObjectStore Objects { get; } = objects ?? throw new ArgumentNullException(nameof(objects));

    public string Location => Objects.Location;

    /// <summary>A store in a local folder (created on first write). The CLI's default is <c>./.specfn/store</c>.</summary>
    public static TraceStore OpenFolder(string folder, TraceStoreOptions? options = null) => new(new LocalFolderObjectStore(folder), options);

    public Task<Evaluation.SuiteDefinition> ReadSuiteSourceAsync(string suiteName, Evaluation.SuiteSource source, Evaluation.EvaluationLimits limits, CancellationToken cancellationToken = default) =>
        Evaluation.SuiteSourceReader.ReadAsync(Objects, suiteName, source, limits, cancellationToken);

    public async Task<RunManifest> CreateRunAsync(RunManifest manifest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var path = TraceStoreLayout.Manifest(manifest.RunId);
        foreach (var taskId in manifest.Tasks.Keys)
        {
            StoreIds.Validate(taskId, "task");
        }

        StoreIds.ValidateSha256(manifest.Drafter.Sha256, "drafter.sha256");
        StoreIds.ValidateSha256(manifest.Verifier.Sha256, "verifier.sha256");
        try
        {
            await Objects.WriteConditionalAsync(path, Serialize(manifest), ifMatch: null, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectConflictException)
        {
            return await GetManifestAsync(manifest.RunId, cancellationToken).ConfigureAwait(false)
                ?? throw new TraceStoreException($"run '{manifest.RunId}' exists but its manifest could not be read from {Location}");
        }

        try
        {
            var created = JsonSerializer.SerializeToUtf8Bytes(new { runId = manifest.RunId, createdAt = manifest.CreatedAt }, RunManifest.JsonOptions);
            await Objects.WriteConditionalAsync(TraceStoreLayout.RunCreated(manifest.RunId), created, ifMatch: null, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectConflictException)
        {
            // A run cleared and created again keeps its first creation mark.
        }

        return manifest;
    }

    public async Task<RunManifest?> GetManifestAsync(string runId, CancellationToken cancellationToken = default)
    {
        var path = TraceStoreLayout.Manifest(runId);
        var content = await Objects.ReadVersionedAsync(path, cancellationToken).ConfigureAwait(false);
        return content is null ? null : Deserialize(path, content.Content);
    }

    public async Task<RunManifest> UpdateManifestAsync(string runId, Func<RunManifest, RunManifest> update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        var path = TraceStoreLayout.Manifest(runId);
        for (var attempt = 1; ; attempt++)
        {
            var current = await Objects.ReadVersionedAsync(path, cancellationToken).ConfigureAwait(false)
                ?? throw new RunNotFoundException(runId, Location);
            var updated = update(Deserialize(path, current.Content));
            if (updated.RunId != runId)
            {
                throw new InvalidOperationException($"a manifest update must not change the run id ('{runId}' → '{updated.RunId}')");
            }

            try
            {
                await Objects.WriteConditionalAsync(path, Serialize(updated), current.Version, cancellationToken).ConfigureAwait(false);
                return updated;
            }
            catch (ObjectConflictException) when (attempt < _options.MaxManifestAttempts)
            {
                // Another task completed between our read and write: back off with jitter so that many concurrent
                // completions spread out instead of colliding again, then re-apply the update to the new state.
                var ceilingMs = Math.Min(200, 5 * attempt);
                await Task.Delay(Random.Shared.Next(1, ceilingMs + 1), cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectConflictException ex)
            {
                throw new TraceStoreException(
                    $"manifest of run '{runId}' kept changing: gave up after {attempt} compare-and-swap attempts", ex);
            }
        }
    }

    public Task<RunPage> ListRunPageAsync(RunQuery query, CancellationToken cancellationToken = default) =>
        RunListing.ListAsync(Objects, query, cancellationToken);

    public async IAsyncEnumerable<string> ListRunsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        const string suffix = "/manifest.json";
        await foreach (var path in Objects.ListAsync("runs/", cancellationToken).ConfigureAwait(false))
        {
            if (path.EndsWith(suffix, StringComparison.Ordinal))
            {
                var runId = path["runs/".Length..^suffix.Length];
                if (StoreIds.IsValid(runId))
                {
                    yield return runId;
                }
            }
        }
    }

    public async Task<TraceWriter> OpenTraceWriterAsync(string runId, string taskId, string contentKey, int prompts, CancellationToken cancellationToken = default)
    {
        var path = TraceStoreLayout.Trace(runId, taskId);
        StoreIds.ValidateSha256(contentKey, nameof(contentKey));
        ArgumentOutOfRangeException.ThrowIfNegative(prompts);

        await UpdateTaskAsync(runId, taskId, entry => entry with
        {
            Status = TaskState.Running,
            ContentKey = contentKey,
            Prompts = prompts,
            Trace = null,
            Error = null,
        }, cancellationToken).ConfigureAwait(false);

        var staged = await Objects.OpenStagedWriteAsync(path, cancellationToken).ConfigureAwait(false);
        return new TraceWriter(this, runId, taskId, contentKey, prompts, staged, _options.TraceCompression);
    }

    public async Task<TraceWriter> OpenShardWriterAsync(string runId, string taskId, string contentKey, ShardRange shard, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(shard);
        StoreIds.ValidateSha256(contentKey, nameof(contentKey));
        if (shard.Count < 1 || shard.Index < 0 || shard.Index >= shard.Count || shard.FirstPrompt < 0 || shard.Prompts < 0
            || shard.FirstPrompt + shard.Prompts > shard.TaskPrompts)
        {
            throw new ArgumentException($"invalid shard {shard.Index} of {shard.Count} (prompts {shard.FirstPrompt}+{shard.Prompts} of {shard.TaskPrompts})", nameof(shard));
        }

        var attempt = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var path = TraceStoreLayout.TraceShard(runId, taskId, shard.Index, attempt);
        await UpdateTaskAsync(runId, taskId, entry => entry.HasCommittedTrace ? entry : entry with
        {
            Status = TaskState.Running,
            ContentKey = contentKey,
            Prompts = shard.TaskPrompts,
            ShardCount = shard.Count,
            Error = null,
        }, cancellationToken).ConfigureAwait(false);

        var staged = await Objects.OpenStagedWriteAsync(path, cancellationToken).ConfigureAwait(false);
        return new TraceWriter(this, runId, taskId, contentKey, shard.Prompts, staged, _options.TraceCompression, shard, attempt);
    }

    /// <summary>
    /// Records a committed shard part in the task's entry, unless that shard is already recorded (a duplicate attempt:
    /// its part is deleted and the first one stays). With the last shard the task becomes committed, its trace the parts
    /// in shard order, and its content key is indexed.
    /// </summary>
    internal async Task<(TaskEntry Entry, bool Recorded)> RecordShardCommitAsync(
        string runId, string taskId, string contentKey, ShardRange range, ShardEntry shard, CancellationToken cancellationToken)
    {
        var recorded = false;
        var entry = await UpdateTaskAsync(runId, taskId, entry =>
        {
            recorded = false;
            var shards = entry.Shards ?? [];
            if (entry.HasCommittedTrace || entry.ContentKey != contentKey || shards.Any(s => s.Index == shard.Index))
            {
                return entry;
            }

            recorded = true;
            shards = [.. shards.Append(shard).OrderBy(s => s.Index)];
            var complete = shards.Count == range.Count;
            return entry with
            {
                Status = complete ? TaskState.Committed : entry.Status == TaskState.Cancelled ? TaskState.Cancelled : TaskState.Running,
                ContentKey = contentKey,
                Prompts = range.TaskPrompts,
                ShardCount = range.Count,
                Shards = shards,
                Trace = complete ? new TraceLocation { RunId = runId, TaskId = taskId, Parts = range.Count } : null,
                Records = shards.Sum(s => s.Records),
                Steps = shards.Sum(s => s.Steps),
                CompressedBytes = shards.Sum(s => s.CompressedBytes),
                UncompressedBytes = shards.Sum(s => s.UncompressedBytes),
                Error = null,
            };
        }, cancellationToken).ConfigureAwait(false);

        if (!recorded)
        {
            await Objects.DeleteAsync(TraceStoreLayout.TraceShard(runId, taskId, shard.Index, shard.Attempt), cancellationToken).ConfigureAwait(false);
        }
        else if (entry.HasCommittedTrace)
        {
            await IndexAsync(ToCommitted(entry), cancellationToken).ConfigureAwait(false);
            await DeleteStrayShardPartsAsync(runId, taskId, entry, cancellationToken).ConfigureAwait(false);
        }

        return (entry, recorded);
    }

    /// <summary>
    /// Once a sharded task is committed, deletes the parts its entry does not name: uploads of attempts lost between their
    /// part's upload and the manifest update (a replica killed there). Readers follow the manifest, so such a part was
    /// never read; this only stops it lying about. An attempt still running finds its shard recorded and deletes its own
    /// part, as before. Best effort: the task is committed whatever this does, and a part it misses stays unread.
    /// </summary>
    private async Task DeleteStrayShardPartsAsync(string runId, string taskId, TaskEntry entry, CancellationToken cancellationToken)
    {
        var referenced = (entry.Shards ?? []).Select(s => TraceStoreLayout.TraceShard(runId, taskId, s.Index, s.Attempt)).ToHashSet(StringComparer.Ordinal);
        try
        {
            await foreach (var path in Objects.ListAsync(TraceStoreLayout.TraceShards(runId, taskId), cancellationToken).ConfigureAwait(false))
            {
                if (!referenced.Contains(path))
                {
                    await Objects.DeleteAsync(path, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is TraceStoreException or IOException or UnauthorizedAccessException)
        {
            // The commit stands; a stray part left here is never read.
        }
    }

    internal async Task<TaskEntry> RecordCommitAsync(CommittedTrace committed, CancellationToken cancellationToken)
    {
        var entry = await UpdateTaskAsync(committed.Trace.RunId, committed.Trace.TaskId, entry => entry with
        {
            Status = TaskState.Committed,
            ContentKey = committed.ContentKey,
            Prompts = committed.Prompts,
            Trace = committed.Trace,
            Records = committed.Records,
            Steps = committed.Steps,
            CompressedBytes = committed.CompressedBytes,
            UncompressedBytes = committed.UncompressedBytes,
            Error = null,
        }, cancellationToken).ConfigureAwait(false);

        await IndexAsync(committed, cancellationToken).ConfigureAwait(false);
        return entry;
    }

    private async Task IndexAsync(CommittedTrace committed, CancellationToken cancellationToken)
    {
        // The index is a cache over manifests: readers verify it against the manifest it points to, and the first
        // committed trace of a key stays the indexed one.
        try
        {
            var json = JsonSerializer.SerializeToUtf8Bytes(committed, RunManifest.JsonOptions);
            await Objects.WriteConditionalAsync(TraceStoreLayout.ContentKeyIndex(committed.ContentKey), json, ifMatch: null, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (ObjectConflictException)
        {
            // Already indexed by an earlier identical trace.
        }
    }

    public async Task<CommittedTrace?> TryGetCommittedTraceAsync(string? runId, string contentKey, CancellationToken cancellationToken = default)
    {
        StoreIds.ValidateSha256(contentKey, nameof(contentKey));
        if (runId is not null)
        {
            var manifest = await GetManifestAsync(runId, cancellationToken).ConfigureAwait(false);
            var entry = manifest?.Tasks.Values.FirstOrDefault(t => t.HasCommittedTrace && t.ContentKey == contentKey);
            return entry is null ? null : ToCommitted(entry);
        }

        var indexPath = TraceStoreLayout.ContentKeyIndex(contentKey);
        var index = await Objects.ReadVersionedAsync(indexPath, cancellationToken).ConfigureAwait(false);
        if (index is null)
        {
            return null;
        }

        var indexed = JsonSerializer.Deserialize<CommittedTrace>(index.Content.Span, RunManifest.JsonOptions)
            ?? throw new TraceStoreException($"content-key index '{indexPath}' in {Location} is empty");
        var target = await GetManifestAsync(indexed.Trace.RunId, cancellationToken).ConfigureAwait(false);
        return target is not null
            && target.Tasks.TryGetValue(indexed.Trace.TaskId, out var targetEntry)
            && targetEntry.HasCommittedTrace
            && targetEntry.ContentKey == contentKey
                ? ToCommitted(targetEntry)
                : null;
    }

    public Task<TaskEntry> ReuseTraceAsync(string runId, string taskId, CommittedTrace source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        StoreIds.Validate(source.Trace.RunId, "run");
        StoreIds.Validate(source.Trace.TaskId, "task");
        return UpdateTaskAsync(runId, taskId, entry => entry with
        {
            Status = source.Trace.RunId == runId && source.Trace.TaskId == taskId ? TaskState.Committed : TaskState.Reused,
            ContentKey = source.ContentKey,
            Prompts = source.Prompts,
            Trace = source.Trace,
            Records = source.Records,
            Steps = source.Steps,
            CompressedBytes = source.CompressedBytes,
            UncompressedBytes = source.UncompressedBytes,
            Error = null,
        }, cancellationToken);
    }

    public Task<TaskEntry> MarkTaskFailedAsync(string runId, string taskId, string error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(error);
        var line = error.ReplaceLineEndings(" ");
        return UpdateTaskAsync(runId, taskId, entry => entry with { Status = TaskState.Failed, Trace = null, Error = line }, cancellationToken);
    }

    public Task<TaskEntry> MarkTaskCancelledAsync(string runId, string taskId, CancellationToken cancellationToken = default) =>
        UpdateTaskAsync(runId, taskId, entry => entry.HasCommittedTrace ? entry : entry with { Status = TaskState.Cancelled, Trace = null, Error = null }, cancellationToken);

    public async IAsyncEnumerable<TraceRecord> ReadTraceAsync(string runId, string taskId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        TraceStoreLayout.Trace(runId, taskId);
        var manifest = await GetManifestAsync(runId, cancellationToken).ConfigureAwait(false)
            ?? throw new RunNotFoundException(runId, Location);
        if (!manifest.Tasks.TryGetValue(taskId, out var entry))
        {
            throw new TraceStoreException($"run '{runId}' has no task '{taskId}'");
        }

        if (!entry.HasCommittedTrace)
        {
            throw new TraceStoreException($"task '{taskId}' of run '{runId}' has no committed trace (status {entry.Status})");
        }

        if (entry.Trace!.Parts is { } parts)
        {
            // A sharded trace: its parts, in shard order, as listed by the task entry that committed them.
            var source = entry;
            if (entry.Trace.RunId != runId || entry.Trace.TaskId != taskId)
            {
                var sourceManifest = await GetManifestAsync(entry.Trace.RunId, cancellationToken).ConfigureAwait(false);
                source = sourceManifest?.Tasks.GetValueOrDefault(entry.Trace.TaskId)
                    ?? throw new TraceMissingException(runId, taskId, TraceStoreLayout.RunPrefix(entry.Trace.RunId) + $"tasks/{entry.Trace.TaskId}/shards/", Location);
            }

            var shards = source.Shards ?? [];
            if (shards.Count != parts || shards.Select(s => s.Index).Order().Where((index, i) => index != i).Any())
            {
                throw new TraceStoreException($"task '{entry.Trace.TaskId}' of run '{entry.Trace.RunId}' lists {shards.Count} of its {parts} shards");
            }

            foreach (var shard in shards.OrderBy(s => s.Index))
            {
                var part = TraceStoreLayout.TraceShard(entry.Trace.RunId, entry.Trace.TaskId, shard.Index, shard.Attempt);
                await foreach (var record in ReadPartAsync(runId, taskId, part, cancellationToken).ConfigureAwait(false))
                {
                    yield return record;
                }
            }

            yield break;
        }

        await foreach (var record in ReadPartAsync(runId, taskId, TraceStoreLayout.Trace(entry.Trace.RunId, entry.Trace.TaskId), cancellationToken).ConfigureAwait(false))
        {
            yield return record;
        }
    }

    private async IAsyncEnumerable<TraceRecord> ReadPartAsync(string runId, string taskId, string path, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var stream = await Objects.OpenReadAsync(path, cancellationToken).ConfigureAwait(false)
            ?? throw new TraceMissingException(runId, taskId, path, Location);
        await using (stream.ConfigureAwait(false))
        {
            using var gzip = new GZipStream(stream, CompressionMode.Decompress);
            using var reader = new StreamReader(gzip, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024);
            var lineNumber = 0;
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                lineNumber++;
                if (line.Length == 0)
                {
                    continue;
                }

                TraceRecord record;
                try
                {
                    record = TraceJson.Deserialize(line);
                }
                catch (JsonException ex)
                {
                    throw new TraceStoreException($"trace '{path}' line {lineNumber} is not a trace record: {ex.Message}", ex);
                }

                yield return record;
            }
        }
    }

    public async Task WriteArtifactAsync(string runId, RunArtifact artifact, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        var path = TraceStoreLayout.Artifact(runId, artifact);
        var staged = await Objects.OpenStagedWriteAsync(path, cancellationToken).ConfigureAwait(false);
        await using (staged.ConfigureAwait(false))
        {
            await write(staged.Stream, cancellationToken).ConfigureAwait(false);
            await staged.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<Stream?> OpenArtifactAsync(string runId, RunArtifact artifact, CancellationToken cancellationToken = default) =>
        Objects.OpenReadAsync(TraceStoreLayout.Artifact(runId, artifact), cancellationToken);

    public Task DeleteArtifactAsync(string runId, RunArtifact artifact, CancellationToken cancellationToken = default) =>
        Objects.DeleteAsync(TraceStoreLayout.Artifact(runId, artifact), cancellationToken);

    public async Task<ModelIdentity> PutModelAsync(string name, string folder, CancellationToken cancellationToken = default)
    {
        StoreIds.Validate(name, "model");
        var content = ModelFolderHash.Compute(folder);
        var identity = new ModelIdentity { Name = name, Sha256 = content.Sha256 };
        var listPath = TraceStoreLayout.ModelFileList(name, content.Sha256);

        if (await ReadModelFileListAsync(identity, cancellationToken).ConfigureAwait(false) is not null)
        {
            return identity;
        }

        foreach (var file in content.Files)
        {
            var staged = await Objects.OpenStagedWriteAsync(TraceStoreLayout.ModelFile(name, content.Sha256, file.Path), cancellationToken)
                .ConfigureAwait(false);
            await using (staged.ConfigureAwait(false))
            {
                await using (var source = File.OpenRead(Path.Combine(folder, file.Path)))
                {
                    await source.CopyToAsync(staged.Stream, cancellationToken).ConfigureAwait(false);
                }

                await staged.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        // The file list goes last and only once: its presence marks a complete, immutable version.
        try
        {
            await Objects.WriteConditionalAsync(listPath, JsonSerializer.SerializeToUtf8Bytes(content.Files, RunManifest.JsonOptions), null, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (ObjectConflictException)
        {
            await ReadModelFileListAsync(identity, cancellationToken).ConfigureAwait(false);
        }

        return identity;
    }

    public async Task GetModelAsync(ModelIdentity model, string destinationFolder, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var files = await ReadModelFileListAsync(model, cancellationToken).ConfigureAwait(false)
            ?? throw new TraceStoreException($"model '{model.Name}' version {model.Sha256} is not in {Location}");

        Directory.CreateDirectory(destinationFolder);
        foreach (var file in files)
        {
            var path = TraceStoreLayout.ModelFile(model.Name, model.Sha256, file.Path);
            var source = await Objects.OpenReadAsync(path, cancellationToken).ConfigureAwait(false)
                ?? throw new TraceStoreException($"model file '{path}' is missing from {Location}");
            var target = Path.Combine(destinationFolder, file.Path.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var temp = target + ".specfn-tmp";
            await using (source.ConfigureAwait(false))
            {
                using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                await using (var output = File.Create(temp))
                {
                    var buffer = new byte[81920];
                    int read;
                    while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        sha.AppendData(buffer, 0, read);
                        await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    }
                }

                var actual = Convert.ToHexStringLower(sha.GetHashAndReset());
                if (actual != file.Sha256)
                {
                    File.Delete(temp);
                    throw new TraceStoreException($"model file '{path}' is corrupt: SHA-256 {actual}, expected {file.Sha256}");
                }
            }

            File.Move(temp, target, overwrite: true);
        }
    }

    private async Task<IReadOnlyList<ModelFile>?> ReadModelFileListAsync(ModelIdentity model, CancellationToken cancellationToken)
    {
        var listPath = TraceStoreLayout.ModelFileList(model.Name, model.Sha256);
        var existing = await Objects.ReadVersionedAsync(listPath, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            return null;
        }

        var files = JsonSerializer.Deserialize<List<ModelFile>>(existing.Content.Span, RunManifest.JsonOptions) ?? [];
        var stored = ModelFolderHash.Combine(files);
        if (stored != model.Sha256)
        {
            throw new TraceStoreException($"stored model '{model.Name}' version {model.Sha256} is inconsistent: its file list hashes to {stored}");
        }

        foreach (var file in files)
        {
            StoreIds.ValidateRelativeFilePath(file.Path);
        }

        return files;
    }

    private async Task<TaskEntry> UpdateTaskAsync(string runId, string taskId, Func<TaskEntry, TaskEntry> change, CancellationToken cancellationToken)
    {
        TraceStoreLayout.Trace(runId, taskId);
        TaskEntry? result = null;
        await UpdateManifestAsync(runId, manifest =>
        {
            var current = manifest.Tasks.TryGetValue(taskId, out var existing) ? existing : new TaskEntry { TaskId = taskId };
            result = change(current) with { TaskId = taskId, UpdatedAt = DateTimeOffset.UtcNow };
            return manifest.WithTask(result);
        }, cancellationToken).ConfigureAwait(false);
        return result!;
    }

    private static CommittedTrace ToCommitted(TaskEntry entry) => new()
    {
        ContentKey = entry.ContentKey!,
        Trace = entry.Trace!,
        Records = entry.Records,
        Steps = entry.Steps,
        CompressedBytes = entry.CompressedBytes,
        UncompressedBytes = entry.UncompressedBytes,
        Prompts = entry.Prompts,
        CommittedAt = entry.UpdatedAt,
    };

    private static byte[] Serialize(RunManifest manifest) => JsonSerializer.SerializeToUtf8Bytes(manifest, RunManifest.JsonOptions);

    private RunManifest Deserialize(string path, ReadOnlyMemory<byte> content)
    {
        try
        {
            return JsonSerializer.Deserialize<RunManifest>(content.Span, RunManifest.JsonOptions)
                ?? throw new TraceStoreException($"manifest '{path}' in {Location} is empty");
        }
        catch (JsonException ex)
        {
            throw new TraceStoreException($"manifest '{path}' in {Location} is not valid JSON: {ex.Message}", ex);
        }
    }
}
