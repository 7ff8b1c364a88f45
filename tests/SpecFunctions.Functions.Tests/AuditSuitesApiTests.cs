using Microsoft.Extensions.Logging.Abstractions;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Functions.Audit;

namespace SpecFunctions.Functions.Tests;

public sealed class AuditSuitesApiTests : IDisposable
{
    private const string Submission = """
        {"runId":"ignored","suite":{"name":"MGSM nightly","tasks":[{"id":"en","prompts":["one"]},{"id":"sw","prompts":["moja"]}]},
         "verifier":"demo-verifier","drafter":"demo-drafter","settings":{"gamma":6}}
        """;

    private readonly TestStore _store = new();
    private readonly SuiteRegistry _registry;

    public AuditSuitesApiTests() => _registry = new SuiteRegistry(_store.Objects);

    public void Dispose() => _store.Dispose();

    private AuditSuitesApi Api() => new(TestParsers.Default(), _registry, NullLogger<AuditSuitesApi>.Instance);

    [Fact]
    public async Task RegisterAuditSuite_Valid_StoredWithNameAsRunIdTemplate()
    {
        var request = TestHttp.Json("PUT", "/api/audit/suites/mgsm", Submission);

        var response = await (await Api().RegisterAuditSuite(request, "mgsm", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(200, response.Status);
        Assert.Equal("mgsm", response.Json.GetProperty("name").GetString());
        Assert.Equal(2, response.Json.GetProperty("tasks").GetInt32());
        var stored = Assert.Single(await _registry.ListAsync());
        Assert.Equal("MGSM nightly", stored.Request.Suite.Name);
        Assert.Equal("mgsm", stored.Request.RunId);
        Assert.Equal(6, stored.Request.Settings.Gamma);
    }

    [Fact]
    public async Task ListAuditSuites_TwoRegistered_BothWithRuns()
    {
        foreach (var name in new[] { "b-suite", "a-suite" })
        {
            var put = TestHttp.Json("PUT", $"/api/audit/suites/{name}", Submission);
            await Api().RegisterAuditSuite(put, name, CancellationToken.None);
        }

        await _registry.RecordRunAsync("a-suite", "audit-a-suite-1");
        var request = TestHttp.Request("GET", "/api/audit/suites");

        var response = await (await Api().ListAuditSuites(request, CancellationToken.None)).ExecuteAsync(request);

        var suites = response.Json.GetProperty("suites").EnumerateArray().ToList();
        Assert.Equal(["a-suite", "b-suite"], suites.Select(s => s.GetProperty("name").GetString()));
        Assert.Equal(["audit-a-suite-1"], suites[0].GetProperty("runs").EnumerateArray().Select(r => r.GetString()));
        Assert.Empty(suites[1].GetProperty("runs").EnumerateArray());
    }

    [Theory]
    [InlineData("Upper", "name")]
    [InlineData("a-name-that-is-longer-than-forty-characters-x", "name")]
    public async Task RegisterAuditSuite_InvalidName_400NothingWritten(string name, string field)
    {
        var request = TestHttp.Json("PUT", "/api/audit/suites/x", Submission);

        var response = await (await Api().RegisterAuditSuite(request, name, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(400, response.Status);
        Assert.True(response.Json.GetProperty("errors").TryGetProperty(field, out _));
        Assert.Empty(_store.Files);
    }

    [Theory]
    [InlineData("application/json", "{\"suite\":1}", "suite")]
    [InlineData("text/plain", "{}", "Content-Type")]
    [InlineData("application/json", "{\"suite\":{\"name\":\"s\",\"tasks\":[{\"id\":\"a\",\"prompts\":[\"p\"]}]},\"verifier\":\"demo-verifier\",\"drafter\":\"x\"}", "drafter")]
    public async Task RegisterAuditSuite_BadBody_400NothingWritten(string contentType, string body, string field)
    {
        var request = TestHttp.Request("PUT", "/api/audit/suites/mgsm", System.Text.Encoding.UTF8.GetBytes(body), contentType);

        var response = await (await Api().RegisterAuditSuite(request, "mgsm", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(400, response.Status);
        Assert.Equal("application/problem+json; charset=utf-8", response.ContentType);
        Assert.True(response.Json.GetProperty("errors").TryGetProperty(field, out _));
        Assert.Empty(_store.Files);
    }
}
