using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;
using Xunit.Abstractions;

namespace SpecFunctions.Storage.Tests;

/// <summary>Semantics every store must have, checked on the local folder and on Azurite alike.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class TraceStoreTests(AzuriteFixture azurite, ITestOutputHelper output) : IDisposable
{
    private readonly TestRuns _runs = new(azurite);

    public void Dispose() => _runs.Dispose();

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task ReadTrace_AfterCommit_ReturnsEveryRecordInOrder(StoreKind kind)
    {
        var store = _runs.Create(kind);
        var written = await TestRuns.WriteRunAsync(store, "run-1");

        foreach (var (taskId, records) in written)
        {
            var read = await TestRuns.ReadAllAsync(store, "run-1", taskId);
            Assert.Equal(records.Select(TraceJson.Serialize), read.Select(TraceJson.Serialize));
        }

        var manifest = await store.GetManifestAsync("run-1");
        Assert.NotNull(manifest);
        var entry = manifest.Tasks["math-sw"];
        Assert.Equal(TaskState.Committed, entry.Status);
        Assert.Equal(written["math-sw"].Count, entry.Records);
        Assert.Equal(written["math-sw"].OfType<StepTrace>().Count(), entry.Steps);
        Assert.Equal(TestRuns.KeyOf("math-sw"), entry.ContentKey);
        Assert.True(entry.CompressedBytes > 0 && entry.CompressedBytes < entry.UncompressedBytes);
    }

    [Fact]
    public async Task BuildReport_SameRunInBothStores_GivesIdenticalReports()
    {
        var reports = new List<string>();
        foreach (var kind in new[] { StoreKind.Local, StoreKind.Blob })
        {
            var store = _runs.Create(kind);
            await TestRuns.WriteRunAsync(store, "round-trip");
            var report = await ReportBuilder.BuildAsync(store, "round-trip", new SuiteAnalysisOptions { BootstrapResamples = 200 });
            await ReportPublisher.PublishAsync(store, report);
            var stored = await ReportPublisher.ReadAsync(store, "round-trip");
            Assert.NotNull(stored);
            reports.Add((stored with { GeneratedAt = default }).ToJson());
        }

        // The engine's timings differ between the two runs, so compare what does not depend on the clock.
        var local = EvaluationReport.FromJson(reports[0]);
        var blob = EvaluationReport.FromJson(reports[1]);
        Assert.Equal(3, local.Tasks.Count);
        foreach (var (a, b) in local.Tasks.Zip(blob.Tasks))
        {
            Assert.Equal(a.TaskId, b.TaskId);
            Assert.Equal(a.Alpha, b.Alpha);
            Assert.Equal(a.AlphaCi, b.AlphaCi);
            Assert.Equal(a.CrossEntropy, b.CrossEntropy);
            Assert.Equal(a.Kl, b.Kl);
            Assert.Equal(a.DraftedTokens, b.DraftedTokens);
            Assert.Equal(a.AcceptedTokens, b.AcceptedTokens);
            Assert.Equal(a.AcceptanceRateByPosition, b.AcceptanceRateByPosition);
            Assert.Equal(a.AcceptedPastPosition, b.AcceptedPastPosition);
        }

        Assert.Equal(local.Suite.Fairness.Unfairness, blob.Suite.Fairness.Unfairness);
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task BuildReport_FixedTraceInBothStores_IsByteIdentical(StoreKind kind)
    {
        // One set of records written to a store must give the same report as computing it from memory.
        var memory = new Dictionary<string, List<TraceRecord>>();
        foreach (var taskId in TestRuns.TaskAlphas.Keys)
        {
            var sink = new ListTraceSink();
            TestRuns.Produce(taskId, sink);
            memory[taskId] = [.. sink.Records];
        }

        var options = new SuiteAnalysisOptions { BootstrapResamples = 200, CostRatio = 0.1 };
        var expected = ReportBuilder.FromMetrics("fixed", SuiteAnalyzer.Analyze(
            [.. memory.Select(kv =>
            {
                var builder = new TaskStatisticsBuilder(TestRuns.Gamma);
                builder.AddRange(kv.Value);
                return (kv.Key, builder.Build());
            }).OrderBy(t => t.Key, StringComparer.Ordinal)],
            TestRuns.Gamma, options));

        var store = _runs.Create(kind);
        await store.CreateRunAsync(TestRuns.NewManifest("fixed"));
        foreach (var (taskId, records) in memory)
        {
            await using var writer = await store.OpenTraceWriterAsync("fixed", taskId, TestRuns.KeyOf(taskId), 4);
            records.ForEach(writer.Write);
            await writer.CommitAsync();
        }

        var actual = await ReportBuilder.BuildAsync(store, "fixed", options);
        string Normalize(EvaluationReport r) => (r with { GeneratedAt = default, Drafter = null, Verifier = null }).ToJson();
        Assert.Equal(Normalize(expected), Normalize(actual));
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task GetOrBuild_StoredReportWithMitigation_RecomputeKeepsMitigationAndPublishesAllArtifacts(StoreKind kind)
    {
        var store = _runs.Create(kind);
        await TestRuns.WriteRunAsync(store, "published");
        await store.MarkTaskFailedAsync("published", "math-zh", "drafter crashed\nwith a second line");
        var options = new SuiteAnalysisOptions { BootstrapResamples = 100 };

        var built = await ReportPublisher.GetOrBuildAsync(store, "published", options);
        var mitigation = ReportWriterTests.SampleReport().Mitigation;
        await ReportPublisher.PublishAsync(store, built with { Mitigation = mitigation });
        var stored = await ReportPublisher.GetOrBuildAsync(store, "published", options);
        var recomputed = await ReportPublisher.GetOrBuildAsync(store, "published", options, recompute: true);

        Assert.Equal(["math-de", "math-en", "math-sw"], built.Tasks.Select(t => t.TaskId));
        var incomplete = Assert.Single(built.IncompleteTasks);
        Assert.Equal(("math-zh", TaskState.Failed, "drafter crashed with a second line"), (incomplete.TaskId, incomplete.Status, incomplete.Error));
        Assert.Equal(mitigation!.UnfairnessAfter, stored.Mitigation!.UnfairnessAfter);
        Assert.Equal(mitigation.UnfairnessAfter, recomputed.Mitigation!.UnfairnessAfter);
        Assert.Equal(built.Suite.Fairness.Unfairness, recomputed.Suite.Fairness.Unfairness);

        foreach (var artifact in new[] { RunArtifact.ReportHtml, RunArtifact.TasksCsv })
        {
            await using var stream = await store.OpenArtifactAsync("published", artifact);
            Assert.NotNull(stream);
            using var reader = new StreamReader(stream);
            var text = await reader.ReadToEndAsync();
            var expected = artifact == RunArtifact.ReportHtml ? HtmlReportWriter.Write(recomputed) : TasksCsvWriter.Write(recomputed);
            Assert.Equal(expected, text);
        }
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task RunTask_SameContentKeyTwice_ReusesCommittedTraceWithoutRecomputing(StoreKind kind)
    {
        var store = _runs.Create(kind);
        await store.CreateRunAsync(TestRuns.NewManifest("run-a"));
        await store.CreateRunAsync(TestRuns.NewManifest("run-b"));
        var calls = 0;
        void Produce(ITraceSink sink, CancellationToken _)
        {
            calls++;
            TestRuns.Produce("math-de", sink);
        }

        var key = TestRuns.KeyOf("math-de");
        var first = await store.RunTaskAsync("run-a", "math-de", key, 4, Produce);
        var again = await store.RunTaskAsync("run-a", "math-de", key, 4, Produce);
        var otherRun = await store.RunTaskAsync("run-b", "math-de", key, 4, Produce);

        Assert.Equal(1, calls);
        Assert.False(first.Reused);
        Assert.True(again.Reused);
        Assert.Equal(TaskState.Committed, again.Entry.Status);
        Assert.True(otherRun.Reused);
        Assert.Equal(TaskState.Reused, otherRun.Entry.Status);
        Assert.Equal(new TraceLocation { RunId = "run-a", TaskId = "math-de" }, otherRun.Entry.Trace);

        var original = await TestRuns.ReadAllAsync(store, "run-a", "math-de");
        var reused = await TestRuns.ReadAllAsync(store, "run-b", "math-de");
        Assert.Equal(original.Select(TraceJson.Serialize), reused.Select(TraceJson.Serialize));
        Assert.Equal(first.Entry.Records, otherRun.Entry.Records);

        // A different key (other prompts) is not a hit.
        var otherKey = TestRuns.KeyOf("math-en");
        Assert.Null(await store.TryGetCommittedTraceAsync(null, otherKey));
        Assert.Null(await store.TryGetCommittedTraceAsync("run-b", otherKey));
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task Writer_DisposedWithoutCommit_LeavesNoVisibleTrace(StoreKind kind)
    {
        var objects = _runs.CreateObjects(kind);
        var store = new TraceStore(objects);
        await store.CreateRunAsync(TestRuns.NewManifest("crash"));

        var writer = await store.OpenTraceWriterAsync("crash", "math-en", TestRuns.KeyOf("math-en"), 4);
        TestRuns.Produce("math-en", writer);
        await writer.DisposeAsync(); // the process "dies" before committing

        Assert.Empty(await ListAsync(objects, "runs/crash/tasks/"));
        Assert.Null(await objects.OpenReadAsync(TraceStoreLayout.Trace("crash", "math-en")));
        var error = await Assert.ThrowsAsync<TraceStoreException>(() => TestRuns.ReadAllAsync(store, "crash", "math-en"));
        Assert.Contains("no committed trace (status Running)", error.Message, StringComparison.Ordinal);
        Assert.Null(await store.TryGetCommittedTraceAsync(null, TestRuns.KeyOf("math-en")));
        Assert.Null(await store.TryGetCommittedTraceAsync("crash", TestRuns.KeyOf("math-en")));
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task Commit_CrashAfterUploadBeforeManifest_TraceStaysInvisibleAndRerunCommits(StoreKind kind)
    {
        var objects = new FailingManifestWrites(_runs.CreateObjects(kind));
        var store = new TraceStore(objects);
        await store.CreateRunAsync(TestRuns.NewManifest("crash2"));
        var key = TestRuns.KeyOf("math-en");

        var writer = await store.OpenTraceWriterAsync("crash2", "math-en", key, 4);
        TestRuns.Produce("math-en", writer);
        objects.FailManifestWrites = true;
        await Assert.ThrowsAsync<IOException>(() => writer.CommitAsync());
        await writer.DisposeAsync();
        objects.FailManifestWrites = false;

        // The trace object was published, but nothing refers to it: readers do not see it.
        Assert.NotNull(await objects.OpenReadAsync(TraceStoreLayout.Trace("crash2", "math-en")));
        await Assert.ThrowsAsync<TraceStoreException>(() => TestRuns.ReadAllAsync(store, "crash2", "math-en"));
        Assert.Null(await store.TryGetCommittedTraceAsync(null, key));

        var calls = 0;
        var rerun = await store.RunTaskAsync("crash2", "math-en", key, 4, (sink, _) =>
        {
            calls++;
            TestRuns.Produce("math-en", sink);
        });
        Assert.Equal(1, calls);
        Assert.False(rerun.Reused);
        Assert.Equal(TaskState.Committed, rerun.Entry.Status);
        Assert.NotEmpty(await TestRuns.ReadAllAsync(store, "crash2", "math-en"));
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task Commit_SixteenConcurrentTasks_AllAppearInManifest(StoreKind kind)
    {
        var store = _runs.Create(kind);
        var taskIds = Enumerable.Range(0, 16).Select(i => $"task-{i:D2}").ToList();
        await store.CreateRunAsync(TestRuns.NewManifest("concurrent", []));

        using var start = new ManualResetEventSlim();
        var work = taskIds.Select(taskId => Task.Run(async () =>
        {
            start.Wait();
            var key = ContentKey.Sha256Hex(taskId);
            await using var writer = await store.OpenTraceWriterAsync("concurrent", taskId, key, 1);
            writer.Write(new PromptTrace { Prompt = 0, GeneratedTokens = taskId.Length, SpeculativeMs = 1 });
            return await writer.CommitAsync();
        })).ToList();
        start.Set();
        await Task.WhenAll(work);

        var manifest = await store.GetManifestAsync("concurrent");
        Assert.NotNull(manifest);
        Assert.Equal(taskIds, manifest.Tasks.Keys.Order(StringComparer.Ordinal));
        Assert.All(manifest.Tasks.Values, t =>
        {
            Assert.Equal(TaskState.Committed, t.Status);
            Assert.Equal(1, t.Records);
            Assert.Equal(ContentKey.Sha256Hex(t.TaskId), t.ContentKey);
        });
        foreach (var taskId in taskIds)
        {
            var records = await TestRuns.ReadAllAsync(store, "concurrent", taskId);
            Assert.Equal(taskId.Length, Assert.IsType<PromptTrace>(Assert.Single(records)).GeneratedTokens);
        }
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task WriteConditional_StaleVersion_Conflicts(StoreKind kind)
    {
        var objects = _runs.CreateObjects(kind);
        var v1 = await objects.WriteConditionalAsync("runs/x/manifest.json", "{\"a\":1}"u8.ToArray(), ifMatch: null);
        await Assert.ThrowsAsync<ObjectConflictException>(() => objects.WriteConditionalAsync("runs/x/manifest.json", "{}"u8.ToArray(), ifMatch: null));
        var v2 = await objects.WriteConditionalAsync("runs/x/manifest.json", "{\"a\":2}"u8.ToArray(), v1);
        Assert.NotEqual(v1, v2);
        await Assert.ThrowsAsync<ObjectConflictException>(() => objects.WriteConditionalAsync("runs/x/manifest.json", "{\"a\":3}"u8.ToArray(), v1));
        var current = await objects.ReadVersionedAsync("runs/x/manifest.json");
        Assert.NotNull(current);
        Assert.Equal("{\"a\":2}", System.Text.Encoding.UTF8.GetString(current.Content.Span));
        Assert.Equal(v2, current.Version);
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task CreateRun_ExistingRun_ReturnsStoredManifestAndListsIt(StoreKind kind)
    {
        var store = _runs.Create(kind);
        var first = await store.CreateRunAsync(TestRuns.NewManifest("again", ["t1"]));
        var second = await store.CreateRunAsync(TestRuns.NewManifest("again", ["t2"]));
        await store.CreateRunAsync(TestRuns.NewManifest("b-run", ["t1"]));

        Assert.Equal(["t1"], second.Tasks.Keys);
        Assert.Equal(first.CreatedAt, second.CreatedAt);
        var runs = new List<string>();
        await foreach (var runId in store.ListRunsAsync())
        {
            runs.Add(runId);
        }

        Assert.Equal(["again", "b-run"], runs);
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.UpdateManifestAsync("missing", m => m));
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task PutModel_SameFolderTwice_StoresOnceAndRoundTrips(StoreKind kind)
    {
        var folder = _runs.NewFolder();
        Directory.CreateDirectory(Path.Combine(folder, "tokenizer"));
        await File.WriteAllTextAsync(Path.Combine(folder, "specfn-model.json"), "{\"name\":\"d\"}");
        var weights = new byte[300_000];
        new Random(5).NextBytes(weights);
        await File.WriteAllBytesAsync(Path.Combine(folder, "model.onnx"), weights);
        await File.WriteAllTextAsync(Path.Combine(folder, "tokenizer", "vocab.txt"), "a\nb\n");

        var objects = new FailingManifestWrites(_runs.CreateObjects(kind));
        var store = new TraceStore(objects);
        var identity = await store.PutModelAsync("drafter-small", folder);
        var writesAfterFirst = objects.Writes;
        var again = await store.PutModelAsync("drafter-small", folder);

        Assert.Equal(identity, again);
        Assert.Equal(ModelFolderHash.Compute(folder).Sha256, identity.Sha256);
        Assert.Equal(4, writesAfterFirst); // three files + the file list
        Assert.Equal(writesAfterFirst, objects.Writes);

        var target = _runs.NewFolder();
        await store.GetModelAsync(identity, target);
        Assert.Equal(weights, await File.ReadAllBytesAsync(Path.Combine(target, "model.onnx")));
        Assert.Equal("a\nb\n", await File.ReadAllTextAsync(Path.Combine(target, "tokenizer", "vocab.txt")));
        Assert.Equal(identity.Sha256, ModelFolderHash.Compute(target).Sha256);

        var missing = identity with { Sha256 = ContentKey.Sha256Hex("other") };
        var error = await Assert.ThrowsAsync<TraceStoreException>(() => store.GetModelAsync(missing, _runs.NewFolder()));
        Assert.Contains("is not in", error.Message, StringComparison.Ordinal);
        output.WriteLine($"model {identity.Name} {identity.Sha256}");
    }

    private static async Task<List<string>> ListAsync(IObjectStore objects, string prefix)
    {
        var list = new List<string>();
        await foreach (var path in objects.ListAsync(prefix))
        {
            list.Add(path);
        }

        return list;
    }
}

/// <summary>Decorator that can make manifest writes fail (a crash between trace upload and commit) and counts writes.</summary>
internal sealed class FailingManifestWrites(IObjectStore inner) : IObjectStore
{
    private int _writes;

    public bool FailManifestWrites { get; set; }

    public int Writes => _writes;

    public string Location => inner.Location;

    public async Task<IStagedObject> OpenStagedWriteAsync(string path, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _writes);
        return await inner.OpenStagedWriteAsync(path, cancellationToken);
    }

    public Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken = default) => inner.OpenReadAsync(path, cancellationToken);

    public Task<VersionedContent?> ReadVersionedAsync(string path, CancellationToken cancellationToken = default) =>
        inner.ReadVersionedAsync(path, cancellationToken);

    public Task<string> WriteConditionalAsync(string path, ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken = default)
    {
        if (FailManifestWrites && path.EndsWith("/manifest.json", StringComparison.Ordinal))
        {
            throw new IOException("simulated crash before the manifest commit");
        }

        Interlocked.Increment(ref _writes);
        return inner.WriteConditionalAsync(path, content, ifMatch, cancellationToken);
    }

    public Task DeleteAsync(string path, CancellationToken cancellationToken = default) => inner.DeleteAsync(path, cancellationToken);

    public IAsyncEnumerable<string> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

    public IAsyncEnumerable<ObjectEntry> ListEntriesAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListEntriesAsync(prefix, cancellationToken);
}
