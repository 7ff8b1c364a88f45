using Azure.Storage.Blobs;
using Moq;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Storage.Tests;

public sealed class HostileIdTests
{
    public static TheoryData<string> HostileIds() =>
    [
        "../x", "a/b", "", " ", new string('a', 65), "grüße", "ÄB", "Upper", "a\\b", "-lead", "a b", "a\nb", "%2e%2e", "run.1", "ｒｕｎ",
    ];

    [Theory]
    [MemberData(nameof(HostileIds))]
    public async Task EveryOperation_HostileRunId_ThrowsBeforeAnyBlobCall(string runId)
    {
        var container = new Mock<BlobContainerClient>(MockBehavior.Strict);
        var store = new TraceStore(new BlobObjectStore(container.Object));

        await AssertAllRejected(store, runId, "task-1", "run");

        Assert.Empty(container.Invocations);
    }

    [Theory]
    [MemberData(nameof(HostileIds))]
    public async Task EveryOperation_HostileTaskId_ThrowsBeforeAnyStorageCall(string taskId)
    {
        var container = new Mock<BlobContainerClient>(MockBehavior.Strict);
        var objects = new Mock<IObjectStore>(MockBehavior.Strict);

        await AssertAllRejected(new TraceStore(new BlobObjectStore(container.Object)), "run-1", taskId, "task");
        await AssertAllRejected(new TraceStore(objects.Object), "run-1", taskId, "task");

        Assert.Empty(container.Invocations);
        Assert.Empty(objects.Invocations);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("run-2026-11-28_01")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123")]
    public void Validate_WellFormedId_Accepted(string id) => Assert.Equal(id, StoreIds.Validate(id, "run"));

    [Fact]
    public void Validate_HostileId_MessageNamesKindAndPattern()
    {
        var error = Assert.Throws<ArgumentException>(() => StoreIds.Validate("../etc", "run"));
        Assert.StartsWith("invalid run id '../etc': must match ^[a-z0-9][a-z0-9-_]{0,63}\\z", error.Message, StringComparison.Ordinal);
    }

    private static async Task AssertAllRejected(TraceStore store, string runId, string taskId, string kind)
    {
        var key = ContentKey.Sha256Hex("k");
        var source = new CommittedTrace { ContentKey = key, Trace = new TraceLocation { RunId = "ok", TaskId = "ok" } };
        var calls = new List<Func<Task>>
        {
            () => store.OpenTraceWriterAsync(runId, taskId, key, 1),
            () => store.ReuseTraceAsync(runId, taskId, source),
            () => store.MarkTaskFailedAsync(runId, taskId, "x"),
            () => Drain(store.ReadTraceAsync(runId, taskId)),
            () => store.RunTaskAsync(runId, taskId, key, 1, (_, _) => { }),
        };
        if (kind == "run")
        {
            calls.AddRange(
            [
                () => store.CreateRunAsync(TestRuns.NewManifest("ok") with { RunId = runId }),
                () => store.GetManifestAsync(runId),
                () => store.UpdateManifestAsync(runId, m => m),
                () => store.TryGetCommittedTraceAsync(runId, key),
                () => store.WriteArtifactAsync(runId, RunArtifact.ReportHtml, (_, _) => Task.CompletedTask),
                () => store.OpenArtifactAsync(runId, RunArtifact.ReportJson),
                () => store.PutModelAsync(runId, "."),
                () => store.GetModelAsync(new ModelIdentity { Name = runId, Sha256 = key }, "."),
            ]);
        }
        else
        {
            calls.Add(() => store.CreateRunAsync(TestRuns.NewManifest("ok", [taskId])));
        }

        foreach (var call in calls)
        {
            var error = await Assert.ThrowsAnyAsync<ArgumentException>(call);
            Assert.Contains($"invalid {(kind == "run" && call == calls[^2] || kind == "run" && call == calls[^1] ? "model" : kind)} id", error.Message, StringComparison.Ordinal);
        }
    }

    private static async Task Drain(IAsyncEnumerable<TraceRecord> records)
    {
        await foreach (var _ in records)
        {
        }
    }
}
