using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Models.Synthetic;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Storage.Tests;

/// <summary>
/// A sharded task's trace parts on both stores: each shard is committed once (a duplicate attempt's part is discarded and
/// the first kept), the task commits with its last shard, and its trace reads as the unsharded run's records.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class ShardedTraceTests(AzuriteFixture azurite) : IDisposable
{
    private const int Prompts = 6;
    private readonly TestRuns _runs = new(azurite);

    public void Dispose() => _runs.Dispose();

    /// <summary>The engine's records for prompts [first, first + count) of the task, by index in the task.</summary>
    private static List<TraceRecord> Produce(int first, int count)
    {
        var (drafter, verifier) = SyntheticPair.Create(64, 0.6, seed: 3);
        var options = new DecodingOptions { Gamma = TestRuns.Gamma, MaxNewTokens = 24, Sampling = SamplingOptions.Default, Seed = 7 };
        var prompts = Enumerable.Range(first, count).Select(i => new[] { i + 1, (i * 7 + 3) % 64 }).ToList();
        var sink = new ListTraceSink();
        new TaskRunner(drafter, verifier, options) { FirstPromptIndex = first, RunBaseline = false }.Run(prompts, sink);
        return [.. sink.Records];
    }

    private static async Task<(TaskEntry Entry, bool Recorded)> CommitShardAsync(ITraceStore store, string runId, ShardRange shard, string key)
    {
        await using var writer = await store.OpenShardWriterAsync(runId, "math-en", key, shard);
        foreach (var record in Produce(shard.FirstPrompt, shard.Prompts))
        {
            writer.Write(record);
        }

        var entry = await writer.CommitAsync();
        return (entry, writer.ShardRecorded);
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task ShardedTrace_EachShardCommittedOnce_ReadsAsTheUnshardedRecords(StoreKind kind)
    {
        var objects = _runs.CreateObjects(kind);
        var store = new TraceStore(objects);
        await store.CreateRunAsync(TestRuns.NewManifest("sharded", ["math-en"]));
        var key = TestRuns.KeyOf("math-en");
        var shards = ShardRange.Split(Prompts, promptsPerShard: 2);
        Assert.Equal([(0, 2), (2, 2), (4, 2)], shards.Select(s => (s.FirstPrompt, s.Prompts)));

        var (afterFirst, recorded) = await CommitShardAsync(store, "sharded", shards[1], key);
        Assert.True(recorded);
        Assert.Equal((TaskState.Running, 3), (afterFirst.Status, afterFirst.ShardCount));
        var kept = afterFirst.Shards!.Single().Attempt;

        // A late duplicate of shard 1 (a redelivered message): discarded, the first part stays, nothing is rewritten.
        var (afterDuplicate, duplicateRecorded) = await CommitShardAsync(store, "sharded", shards[1], key);
        Assert.False(duplicateRecorded);
        Assert.Equal(kept, afterDuplicate.Shards!.Single().Attempt);
        await Assert.ThrowsAsync<TraceStoreException>(async () => await TestRuns.ReadAllAsync(store, "sharded", "math-en"));

        await CommitShardAsync(store, "sharded", shards[2], key);
        var (complete, _) = await CommitShardAsync(store, "sharded", shards[0], key);
        Assert.Equal(TaskState.Committed, complete.Status);
        Assert.Equal(new TraceLocation { RunId = "sharded", TaskId = "math-en", Parts = 3 }, complete.Trace);
        Assert.Equal([0, 1, 2], complete.Shards!.Select(s => s.Index));
        Assert.Equal(kept, complete.Shards![1].Attempt);

        var parts = await objects.ListAsync("runs/sharded/tasks/math-en/shards/").ToListAsync();
        Assert.Equal(3, parts.Count);

        // The engine's records of the whole task run at once, timings aside (each run has its own).
        var expected = Produce(0, Prompts).Select(Untimed).ToList();
        var read = (await TestRuns.ReadAllAsync(store, "sharded", "math-en")).Select(Untimed).ToList();
        Assert.Equal(expected, read);
        Assert.Equal(expected.Count, complete.Records);

        // The whole task is indexed by its content key: another run reuses it, parts and all.
        var indexed = await store.TryGetCommittedTraceAsync(null, key);
        Assert.Equal(3, indexed!.Trace.Parts);
        await store.CreateRunAsync(TestRuns.NewManifest("reuser", ["math-en"]));
        await store.ReuseTraceAsync("reuser", "math-en", indexed);
        Assert.Equal(read, (await TestRuns.ReadAllAsync(store, "reuser", "math-en")).Select(Untimed));
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task TaskCommitted_PartsOfLostAttemptsDeleted_RecordedPartsAndOtherTasksKept(StoreKind kind)
    {
        var objects = _runs.CreateObjects(kind);
        var store = new TraceStore(objects);
        await store.CreateRunAsync(TestRuns.NewManifest("strays", ["math-en", "math-de"]));
        var key = TestRuns.KeyOf("math-en");
        var shards = ShardRange.Split(Prompts, promptsPerShard: 2);

        // Parts uploaded by attempts whose replica was killed before the manifest update: one of a shard that commits
        // later under another attempt, one of a shard that has committed already; and a part of another task.
        async Task UploadAsync(string path)
        {
            await using var staged = await objects.OpenStagedWriteAsync(path);
            staged.Stream.Write([1, 2, 3]);
            await staged.CommitAsync();
        }

        await UploadAsync(TraceStoreLayout.TraceShard("strays", "math-en", 0, "lost0"));
        await CommitShardAsync(store, "strays", shards[1], key);
        await UploadAsync(TraceStoreLayout.TraceShard("strays", "math-en", 1, "lost1"));
        var other = TraceStoreLayout.TraceShard("strays", "math-de", 0, "other");
        await UploadAsync(other);
        var shardsFolder = TraceStoreLayout.TraceShards("strays", "math-en");
        Assert.Equal(3, await objects.ListAsync(shardsFolder).CountAsync());

        // While the task is still running, nothing is deleted (a stray cannot be told from an attempt about to record).
        var (running, _) = await CommitShardAsync(store, "strays", shards[2], key);
        Assert.Equal(TaskState.Running, running.Status);
        Assert.Equal(4, await objects.ListAsync(shardsFolder).CountAsync());

        // With its last shard the task commits, and exactly its recorded parts remain.
        var (complete, _) = await CommitShardAsync(store, "strays", shards[0], key);
        Assert.Equal(TaskState.Committed, complete.Status);
        var recorded = complete.Shards!.Select(s => TraceStoreLayout.TraceShard("strays", "math-en", s.Index, s.Attempt)).Order(StringComparer.Ordinal);
        Assert.Equal(recorded, await objects.ListAsync(shardsFolder).ToListAsync());
        Assert.Equal([other], await objects.ListAsync(TraceStoreLayout.TraceShards("strays", "math-de")).ToListAsync());
        Assert.Equal(Produce(0, Prompts).Select(Untimed), (await TestRuns.ReadAllAsync(store, "strays", "math-en")).Select(Untimed));
    }

    private static string Untimed(TraceRecord record) => TraceJson.Serialize(record switch
    {
        StepTrace s => s with { DrafterMs = 0, VerifierMs = 0 },
        PromptTrace p => p with { SpeculativeMs = 0 },
        _ => record,
    });
}
