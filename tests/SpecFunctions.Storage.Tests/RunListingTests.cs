using System.Text;
using System.Text.Json.Nodes;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage.Tests;

/// <summary>The history of runs (<see cref="RunListing"/>) on both backends: order, paging, filters, bad queries.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class RunListingTests(AzuriteFixture azurite) : IDisposable
{
    private readonly TestRuns _runs = new(azurite);

    public void Dispose() => _runs.Dispose();

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task List_FiveRuns_NewestFirstPagedAndFiltered(StoreKind kind)
    {
        var objects = _runs.CreateObjects(kind);
        await SeedAsync(objects);

        var first = await RunListing.ListAsync(objects, new RunQuery { PageSize = 2 });
        Assert.Equal(["r-e", "r-d"], first.Runs.Select(r => r.RunId));
        Assert.True(first.HasMore);
        var second = await RunListing.ListAsync(objects, new RunQuery { Page = 2, PageSize = 2 });
        Assert.Equal(["r-c", "r-b"], second.Runs.Select(r => r.RunId));
        Assert.True(second.HasMore);
        var third = await RunListing.ListAsync(objects, new RunQuery { Page = 3, PageSize = 2 });
        Assert.False(third.HasMore);
        var completed = Assert.Single(third.Runs);

        // The oldest run was updated last: the order follows creation, not the last write.
        Assert.Equal("r-a", completed.RunId);
        Assert.Equal(("Completed", "reported", 3, 3), (completed.Status, completed.Phase, completed.TasksDone, completed.TasksTotal));
        Assert.Equal(0.0425, completed.Unfairness);
        Assert.Equal("sw", completed.WorstTask);
        Assert.Equal("mgsm", completed.Suite);
        Assert.Equal(("synthetic-drafter", "synthetic-verifier"), (completed.Drafter, completed.Verifier));
        Assert.NotNull(completed.FinishedAt);
        Assert.Empty((await RunListing.ListAsync(objects, new RunQuery { Page = 4, PageSize = 2 })).Runs);

        var running = first.Runs[1];
        Assert.Equal(("Running", "evaluating", 1, 3, "mgsm"), (running.Status, running.Phase, running.TasksDone, running.TasksTotal, running.Suite));
        Assert.Null(running.Unfairness);
        Assert.Null(running.WorstTask);
        Assert.Null(running.FinishedAt);
        Assert.Null(first.Runs[0].Suite);

        var mgsm = await RunListing.ListAsync(objects, new RunQuery { Suite = "mgsm", PageSize = 2 });
        Assert.Equal(["r-d", "r-b"], mgsm.Runs.Select(r => r.RunId));
        Assert.True(mgsm.HasMore);
        var mgsm2 = await RunListing.ListAsync(objects, new RunQuery { Suite = "mgsm", Page = 2, PageSize = 2 });
        Assert.Equal(["r-a"], mgsm2.Runs.Select(r => r.RunId));
        Assert.False(mgsm2.HasMore);

        Assert.Equal(["r-e", "r-d", "r-b"], (await RunListing.ListAsync(objects, new RunQuery { Status = "Running" })).Runs.Select(r => r.RunId));
        var failed = Assert.Single((await RunListing.ListAsync(objects, new RunQuery { Status = "Failed" })).Runs);
        Assert.Equal(("r-c", "other", "evaluated", 3, 3), (failed.RunId, failed.Suite, failed.Phase, failed.TasksDone, failed.TasksTotal));
        Assert.Equal(["r-a"], (await RunListing.ListAsync(objects, new RunQuery { Status = "Completed" })).Runs.Select(r => r.RunId));
        Assert.Empty((await RunListing.ListAsync(objects, new RunQuery { Status = "Completed", Suite = "other" })).Runs);
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task List_RunsWithoutCreationMark_OrderedByManifestCreatedAt(StoreKind kind)
    {
        // Runs stored before created.json existed: created here in the opposite order of their createdAt.
        var objects = _runs.CreateObjects(kind);
        var store = new TraceStore(objects);
        foreach (var (id, hour) in new[] { ("late", 9), ("early", 1), ("middle", 5) })
        {
            await store.CreateRunAsync(TestRuns.NewManifest(id) with { CreatedAt = new DateTimeOffset(2026, 11, 28, hour, 0, 0, TimeSpan.Zero) });
            await objects.DeleteAsync(TraceStoreLayout.RunCreated(id));
        }

        var page = await RunListing.ListAsync(objects, new RunQuery());

        Assert.Equal(["late", "middle", "early"], page.Runs.Select(r => r.RunId));
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 5, 0, 0, TimeSpan.Zero), page.Runs[1].CreatedAt);
    }

    [Fact]
    public async Task List_EmptyStore_HasNoRuns()
    {
        var page = await RunListing.ListAsync(new LocalFolderObjectStore(_runs.NewFolder()), new RunQuery());
        Assert.Empty(page.Runs);
        Assert.False(page.HasMore);
    }

    [Theory]
    [InlineData(0, 20, null, null, "page")]
    [InlineData(1, 0, null, null, "pageSize")]
    [InlineData(1, 101, null, null, "pageSize")]
    [InlineData(1, 20, "running", null, "status")]
    [InlineData(1, 20, "Pending", null, "status")]
    [InlineData(1, 20, null, "", "suite")]
    [InlineData(1, 20, null, "a\nb", "suite")]
    public async Task List_BadQuery_NamesTheFieldAndReadsNothing(int page, int pageSize, string? status, string? suite, string field)
    {
        var query = new RunQuery { Page = page, PageSize = pageSize, Status = status, Suite = suite };
        Assert.Equal(field, Assert.Single(RunListing.Validate(query)).Field);

        // A store that does not exist is never touched: the query is refused first.
        var folder = Path.Combine(_runs.NewFolder(), "missing");
        var error = await Assert.ThrowsAsync<ArgumentException>(() => RunListing.ListAsync(new LocalFolderObjectStore(folder), query));
        Assert.StartsWith(field + ":", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void Validate_Boundaries_AreAccepted()
    {
        Assert.Empty(RunListing.Validate(new RunQuery { Page = 1, PageSize = 1 }));
        Assert.Empty(RunListing.Validate(new RunQuery { Page = 50, PageSize = RunListing.MaxPageSize, Status = "Failed", Suite = "mgsm" }));
    }

    /// <summary>
    /// r-a (mgsm, completed with a report), r-b (mgsm, running), r-c (other, a task failed, no report), r-d (mgsm, running),
    /// r-e (no submission, running), created in that order; r-a's manifest is updated last.
    /// </summary>
    internal static async Task SeedAsync(IObjectStore objects)
    {
        var store = new TraceStore(objects);
        var runs = new[] { ("r-a", "mgsm"), ("r-b", "mgsm"), ("r-c", "other"), ("r-d", "mgsm"), ("r-e", null) };
        for (var i = 0; i < runs.Length; i++)
        {
            var (id, suite) = runs[i];
            var manifest = TestRuns.NewManifest(id) with
            {
                // One createdAt for all: the order comes from the store's own times.
                CreatedAt = new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero),
                Submission = suite is null ? null : new JsonObject { ["suite"] = new JsonObject { ["name"] = suite } },
            };
            await store.CreateRunAsync(manifest);
            await store.UpdateManifestAsync(id, m => m.WithTask(m.Tasks["math-en"] with { Status = TaskState.Committed }));

            if (i < runs.Length - 1)
            {
                // Blob times have whole seconds (Azurite's too): the next run is created in a later second.
                await Task.Delay(TimeSpan.FromSeconds(1.05));
            }
        }

        await store.UpdateManifestAsync("r-c", m => m
            .WithTask(m.Tasks["math-de"] with { Status = TaskState.Committed })
            .WithTask(m.Tasks["math-sw"] with { Status = TaskState.Failed, Error = "out of memory" }));
        await store.UpdateManifestAsync("r-a", m => m
            .WithTask(m.Tasks["math-de"] with { Status = TaskState.Committed })
            .WithTask(m.Tasks["math-sw"] with { Status = TaskState.Reused }));
        await store.WriteArtifactAsync("r-a", RunArtifact.ReportJson, (s, ct) => s.WriteAsync(Encoding.UTF8.GetBytes(ReportWriterTests.SampleReport().ToJson()), ct).AsTask());
    }
}
