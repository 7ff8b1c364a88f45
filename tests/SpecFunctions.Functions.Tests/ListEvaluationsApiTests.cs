using Microsoft.Extensions.Logging.Abstractions;
using SpecFunctions.Core.Storage;
using SpecFunctions.Functions.Http;
using SpecFunctions.TestKit;

namespace SpecFunctions.Functions.Tests;

/// <summary><c>GET /api/evaluations</c> on a real local store: the page's keys and order, filters, and 400s naming the field.</summary>
public sealed class ListEvaluationsApiTests : IDisposable
{
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    private EvaluationsApi Api() => new(TestParsers.Default(), _store.Store, TimeProvider.System, NullLogger<EvaluationsApi>.Instance);

    private async Task<TestResponse> GetAsync(string? query)
    {
        var request = TestHttp.Request("GET", "/api/evaluations", query: query);
        return await (await Api().ListEvaluations(request, CancellationToken.None)).ExecuteAsync(request);
    }

    [Fact]
    public async Task ListEvaluations_ThreeRuns_NewestFirstWithTheIssuesKeys()
    {
        await SeedAsync();

        var response = await GetAsync(null);

        Assert.Equal(200, response.Status);
        var runs = response.Json.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(["run-3", "run-2", "run-1"], runs.Select(r => r.GetProperty("runId").GetString()));
        var newest = runs[0];
        Assert.Equal("other", newest.GetProperty("suite").GetString());
        Assert.Equal("Failed", newest.GetProperty("status").GetString());
        Assert.Equal("evaluated", newest.GetProperty("phase").GetString());
        Assert.Equal(2, newest.GetProperty("tasksDone").GetInt32());
        Assert.Equal(2, newest.GetProperty("tasksTotal").GetInt32());
        Assert.Equal("tiny-drafter", newest.GetProperty("drafter").GetString());
        Assert.Equal("tiny-verifier", newest.GetProperty("verifier").GetString());
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 3, 0, 0, TimeSpan.Zero), newest.GetProperty("createdAt").GetDateTimeOffset());
        Assert.Equal(1, response.Json.GetProperty("page").GetInt32());
        Assert.Equal(RunListing.DefaultPageSize, response.Json.GetProperty("pageSize").GetInt32());
        Assert.False(response.Json.GetProperty("hasMore").GetBoolean());

        var mgsm = await GetAsync("?suite=mgsm&pageSize=1");
        Assert.Equal(["run-2"], mgsm.Json.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("runId").GetString()));
        Assert.True(mgsm.Json.GetProperty("hasMore").GetBoolean());
        var second = await GetAsync("?suite=mgsm&pageSize=1&page=2");
        Assert.Equal(["run-1"], second.Json.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("runId").GetString()));
        Assert.False(second.Json.GetProperty("hasMore").GetBoolean());

        var running = await GetAsync("?status=Running");
        Assert.Equal(["run-2", "run-1"], running.Json.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("runId").GetString()));
    }

    [Theory]
    [InlineData("?page=0", "page", "must be 1 or more, got 0")]
    [InlineData("?page=two", "page", "must be one whole number, got 'two'")]
    [InlineData("?page=-1", "page", "must be one whole number, got '-1'")]
    [InlineData("?pageSize=101", "pageSize", "must be in 1..100, got 101")]
    [InlineData("?pageSize=1&pageSize=2", "pageSize", "must be one whole number, got '1,2'")]
    [InlineData("?status=done", "status", "must be one of Running, Completed, Failed")]
    [InlineData("?suite=a&suite=b", "suite", "must be given at most once")]
    public async Task ListEvaluations_BadQuery_400ProblemNamingTheField(string query, string field, string problem)
    {
        var response = await GetAsync(query);

        Assert.Equal(400, response.Status);
        Assert.StartsWith("application/problem+json", response.ContentType, StringComparison.Ordinal);
        var errors = response.Json.GetProperty("errors");
        Assert.Equal([field], errors.EnumerateObject().Select(p => p.Name));
        Assert.Equal(problem, errors.GetProperty(field)[0].GetString());
        Assert.Empty(_store.Files);
    }

    private async Task SeedAsync()
    {
        foreach (var (id, suite, hour, failed) in new[] { ("run-1", "mgsm", 1, false), ("run-2", "mgsm", 2, false), ("run-3", "other", 3, true) })
        {
            await StoredRuns.AddAsync(_store.Store, StoredRuns.Manifest(
                id, suite, new DateTimeOffset(2026, 11, 28, hour, 0, 0, TimeSpan.Zero), ("en", TaskState.Committed), ("sw", failed ? TaskState.Failed : TaskState.Running)));
            await Task.Delay(50);
        }
    }
}
