using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Functions.Http;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Tests;

public class MitigationApiTests
{
    private const string Sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static readonly string ValidBody = $$"""{"reference":"demo-drafter@{{Sha}}","identity":{"name":"demo-drafter","sha256":"{{Sha}}"},"notes":"s-CDF, 200 steps"}""";

    private static MitigationApi Api() => new(TestParsers.Default(), NullLogger<MitigationApi>.Instance);

    private static Mock<DurableTaskClient> Client(OrchestrationRuntimeStatus? status)
    {
        var client = new Mock<DurableTaskClient>(MockBehavior.Strict, "test");
        client.Setup(c => c.GetInstanceAsync("nightly-1-mitigation", false, It.IsAny<CancellationToken>()))
            .ReturnsAsync(status is { } s ? new OrchestrationMetadata(DurableNames.MitigateDrafter, "nightly-1-mitigation") { RuntimeStatus = s } : null);
        return client;
    }

    [Fact]
    public async Task DrafterReady_WaitingMitigation_RaisesEventWithDrafter202()
    {
        var client = Client(OrchestrationRuntimeStatus.Running);
        object? payload = null;
        client.Setup(c => c.RaiseEventAsync("nightly-1-mitigation", MitigateDrafterOrchestrator.DrafterReadyEvent, It.IsAny<object?>(), It.IsAny<CancellationToken>()))
            .Callback((string _, string _, object? p, CancellationToken _) => payload = p)
            .Returns(Task.CompletedTask);
        var request = TestHttp.Json("POST", "/api/evaluations/nightly-1/mitigation/drafter-ready", ValidBody);

        var response = await (await Api().DrafterReady(request, client.Object, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(202, response.Status);
        Assert.Equal("https://specfn.example/api/evaluations/nightly-1", response.Headers.Location.ToString());
        var drafter = Assert.IsType<NewDrafter>(payload);
        Assert.Equal(("demo-drafter", Sha, "s-CDF, 200 steps"), (drafter.Identity.Name, drafter.Identity.Sha256, drafter.Notes));
    }

    [Fact]
    public async Task DrafterReady_NoMitigation_404()
    {
        var request = TestHttp.Json("POST", "/api/evaluations/nightly-1/mitigation/drafter-ready", ValidBody);

        var response = await (await Api().DrafterReady(request, Client(null).Object, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(404, response.Status);
    }

    [Fact]
    public async Task DrafterReady_MitigationFinished_409NoEvent()
    {
        var client = Client(OrchestrationRuntimeStatus.Completed);
        var request = TestHttp.Json("POST", "/api/evaluations/nightly-1/mitigation/drafter-ready", ValidBody);

        var response = await (await Api().DrafterReady(request, client.Object, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(409, response.Status);
        client.Verify(c => c.RaiseEventAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<object?>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Theory]
    [InlineData("""{"identity":{"name":"demo-drafter","sha256":"SHA"}}""", "$")]
    [InlineData("""{"reference":"d","identity":{"name":"demo-drafter","sha256":"SHA"},"extra":1}""", "extra")]
    [InlineData("""{"reference":5,"identity":{"name":"demo-drafter","sha256":"SHA"}}""", "reference")]
    [InlineData("""{"reference":"d","identity":{"name":"demo-drafter","sha256":"abc"}}""", "identity.sha256")]
    [InlineData("""{"reference":"d","identity":{"name":"../x","sha256":"SHA"}}""", "identity.name")]
    [InlineData("""{"reference":" ","identity":{"name":"demo-drafter","sha256":"SHA"}}""", "reference")]
    [InlineData("""{"Reference":"d","identity":{"name":"demo-drafter","sha256":"SHA"}}""", "Reference")]
    [InlineData("""[1]""", "$")]
    public async Task DrafterReady_BadBody_400NamingFieldNoClientCall(string body, string field)
    {
        var client = new Mock<DurableTaskClient>(MockBehavior.Strict, "test");
        var request = TestHttp.Json("POST", "/api/evaluations/nightly-1/mitigation/drafter-ready", body.Replace("SHA", Sha));

        var response = await (await Api().DrafterReady(request, client.Object, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(400, response.Status);
        Assert.Equal("application/problem+json; charset=utf-8", response.ContentType);
        Assert.True(response.Json.GetProperty("errors").TryGetProperty(field, out _), response.Text);
        client.VerifyNoOtherCalls();
    }
}
