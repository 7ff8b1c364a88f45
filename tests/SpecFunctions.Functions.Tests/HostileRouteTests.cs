using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using SpecFunctions.Core.Storage;
using SpecFunctions.Functions.Http;

namespace SpecFunctions.Functions.Tests;

/// <summary>Run ids in routes are anchored at the true end: <c>run-1\n</c> is a 400 naming <c>runId</c>, before any client or store call.</summary>
public sealed class HostileRouteTests : IDisposable
{
    private readonly TestStore _store = new();
    private readonly Mock<DurableTaskClient> _client = new(MockBehavior.Strict, "test");

    public void Dispose() => _store.Dispose();

    public static TheoryData<string, string> Routes => new()
    {
        { "status", "run-1\n" },
        { "status", "run-1\r\n" },
        { "report", "run-1\n" },
        { "cancel", "run-1\n" },
        { "drafter-ready", "run-1\n" },
        { "status", "\ud800" },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Route_RunIdWithTrailingNewline_400NamingRunIdNoCalls(string endpoint, string runId)
    {
        var api = new EvaluationsApi(TestParsers.Default(), _store.Store, TimeProvider.System, NullLogger<EvaluationsApi>.Instance);
        var mitigation = new MitigationApi(TestParsers.Default(), NullLogger<MitigationApi>.Instance);
        var request = TestHttp.Json(endpoint is "status" or "report" ? "GET" : "POST", "/api/evaluations/x", "{}");

        var result = endpoint switch
        {
            "status" => await api.GetEvaluationStatus(request, _client.Object, runId, CancellationToken.None),
            "report" => await api.GetEvaluationReport(request, runId, CancellationToken.None),
            "cancel" => await api.CancelEvaluation(request, _client.Object, runId, CancellationToken.None),
            _ => await mitigation.DrafterReady(request, _client.Object, runId, CancellationToken.None),
        };
        var response = await result.ExecuteAsync(request);

        Assert.Equal(400, response.Status);
        Assert.Equal("application/problem+json; charset=utf-8", response.ContentType);
        var message = Assert.Single(response.Json.GetProperty("errors").GetProperty("runId").EnumerateArray()).GetString()!;
        Assert.DoesNotContain('\n', message);
        Assert.Equal($"{HttpInput.Describe(runId)} is not a valid run id: must match {StoreIds.Pattern}", message);
        _client.VerifyNoOtherCalls();
        Assert.Empty(_store.Files);
    }
}
