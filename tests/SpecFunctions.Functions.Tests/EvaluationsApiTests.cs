using System.Text;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;
using SpecFunctions.Functions.Http;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Tests;

public sealed class EvaluationsApiTests : IDisposable
{
    private const string Submission = """
        {"runId":"nightly-1","suite":{"name":"mgsm","tasks":[{"id":"en","prompts":["one"]},{"id":"sw","prompts":["moja"]}]},
         "verifier":"demo-verifier","drafter":"demo-drafter","settings":{"gamma":5}}
        """;

    private const string Base = "https://specfn.example/api/evaluations/";

    private readonly TestStore _store = new();
    private readonly Mock<DurableTaskClient> _client = new(MockBehavior.Strict, "test");
    private readonly List<(TaskName Name, object? Input, StartOrchestrationOptions? Options)> _scheduled = [];

    public EvaluationsApiTests()
    {
        _client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
            .Callback((TaskName name, object? input, StartOrchestrationOptions? options, CancellationToken _) => _scheduled.Add((name, input, options)))
            .ReturnsAsync((TaskName _, object? _, StartOrchestrationOptions? options, CancellationToken _) => options!.InstanceId!);
    }

    public void Dispose() => _store.Dispose();

    private EvaluationsApi Api(Func<string>? newRunId = null) => new(TestParsers.Default(newRunId), _store.Store, TimeProvider.System, NullLogger<EvaluationsApi>.Instance);

    private void Instance(string id, OrchestrationMetadata? metadata) =>
        _client.Setup(c => c.GetInstanceAsync(id, It.IsAny<bool>(), It.IsAny<CancellationToken>())).ReturnsAsync(metadata);

    private static OrchestrationMetadata Metadata(
        string id, OrchestrationRuntimeStatus status, string? customStatus = null, string? output = null, TaskFailureDetails? failure = null) =>
        new(DurableNames.EvaluateSuite, id)
    {
        RuntimeStatus = status,
        SerializedCustomStatus = customStatus,
        SerializedOutput = output,
        FailureDetails = failure,
        CreatedAt = new DateTimeOffset(2026, 11, 28, 2, 0, 0, TimeSpan.Zero),
        LastUpdatedAt = new DateTimeOffset(2026, 11, 28, 2, 5, 0, TimeSpan.Zero),
    };

    [Fact]
    public async Task SubmitEvaluation_Valid_SchedulesEvaluateSuiteWithRunIdAnd202()
    {
        Instance("nightly-1", null);
        var request = TestHttp.Json("POST", "/api/evaluations", Submission);

        var response = await (await Api().SubmitEvaluation(request, _client.Object, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(202, response.Status);
        Assert.Equal(Base + "nightly-1", response.Headers.Location.ToString());
        Assert.Equal("10", response.Headers.RetryAfter.ToString());
        Assert.Equal("application/json; charset=utf-8", response.ContentType);
        var body = response.Json;
        Assert.Equal("nightly-1", body.GetProperty("id").GetString());
        Assert.Equal(Base + "nightly-1", body.GetProperty("statusQueryGetUri").GetString());
        Assert.Equal(Base + "nightly-1/report", body.GetProperty("reportGetUri").GetString());
        Assert.Equal(Base + "nightly-1/cancel", body.GetProperty("cancelPostUri").GetString());
        var (name, input, options) = Assert.Single(_scheduled);
        Assert.Equal(DurableNames.EvaluateSuite, name.Name);
        Assert.Equal("nightly-1", options!.InstanceId);
        var evaluation = Assert.IsType<EvaluationRequest>(input);
        Assert.Equal("nightly-1", evaluation.RunId);
        Assert.Equal(5, evaluation.Settings.Gamma);
        Assert.Equal(["en", "sw"], evaluation.Suite.Tasks.Select(t => t.Id));
    }

    [Fact]
    public async Task SubmitEvaluation_ScheduledOnceThenResubmitted_StartedCounterCountsOnce()
    {
        // Only this class submits over HTTP, and its tests run one at a time, so "source=http" increments are ours.
        var started = 0L;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Core.Telemetry.SpecFunctionsTelemetry.Name && instrument.Name == "specfn.evaluations.started")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "source" && (string?)tag.Value == "http")
                {
                    Interlocked.Add(ref started, value);
                }
            }
        });
        listener.Start();
        Instance("nightly-1", null);
        var first = TestHttp.Json("POST", "/api/evaluations", Submission);
        await Api().SubmitEvaluation(first, _client.Object, CancellationToken.None);
        Instance("nightly-1", Metadata("nightly-1", OrchestrationRuntimeStatus.Running));
        var again = TestHttp.Json("POST", "/api/evaluations", Submission);

        await Api().SubmitEvaluation(again, _client.Object, CancellationToken.None);

        Assert.Equal(1, Interlocked.Read(ref started));
    }

    [Fact]
    public async Task SubmitEvaluation_NoRunId_GeneratedIdIsInstanceIdAndInUrls()
    {
        Instance("run-abc", null);
        var request = TestHttp.Json("POST", "/api/evaluations", Submission.Replace("\"runId\":\"nightly-1\",", ""));

        var response = await (await Api(() => "run-abc").SubmitEvaluation(request, _client.Object, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(202, response.Status);
        Assert.Equal("run-abc", response.Json.GetProperty("id").GetString());
        Assert.Equal(Base + "run-abc", response.Headers.Location.ToString());
        Assert.Equal("run-abc", Assert.Single(_scheduled).Options!.InstanceId);
    }

    [Fact]
    public async Task SubmitEvaluation_JsonWithUtf8Charset_Accepted()
    {
        Instance("nightly-1", null);
        var request = TestHttp.Request("POST", "/api/evaluations", Encoding.UTF8.GetBytes(Submission), "application/json; charset=UTF-8");

        var response = await (await Api().SubmitEvaluation(request, _client.Object, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(202, response.Status);
        Assert.Single(_scheduled);
    }

    [Fact]
    public async Task SubmitEvaluation_SameRunIdAgain_NotScheduledSameAnswer()
    {
        Instance("nightly-1", null);
        var first = TestHttp.Json("POST", "/api/evaluations", Submission);
        var firstResponse = await (await Api().SubmitEvaluation(first, _client.Object, CancellationToken.None)).ExecuteAsync(first);
        Instance("nightly-1", Metadata("nightly-1", OrchestrationRuntimeStatus.Running));
        var second = TestHttp.Json("POST", "/api/evaluations", Submission);

        var secondResponse = await (await Api().SubmitEvaluation(second, _client.Object, CancellationToken.None)).ExecuteAsync(second);

        Assert.Equal(202, secondResponse.Status);
        Assert.Equal(firstResponse.Text, secondResponse.Text);
        Assert.Equal(firstResponse.Headers.Location, secondResponse.Headers.Location);
        Assert.Single(_scheduled);
    }

    [Fact]
    public async Task SubmitEvaluation_LostScheduleRace_202WithoutError()
    {
        var lookups = 0;
        _client.Setup(c => c.GetInstanceAsync("nightly-1", It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => ++lookups == 1 ? null : Metadata("nightly-1", OrchestrationRuntimeStatus.Pending));
        _client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("an instance with ID 'nightly-1' already exists"));
        var request = TestHttp.Json("POST", "/api/evaluations", Submission);

        var response = await (await Api().SubmitEvaluation(request, _client.Object, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(202, response.Status);
        Assert.Equal(2, lookups);
    }

    [Fact]
    public async Task SubmitEvaluation_ScheduleFailsAndNoInstance_Throws()
    {
        Instance("nightly-1", null);
        _client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("task hub unavailable"));
        var request = TestHttp.Json("POST", "/api/evaluations", Submission);

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => Api().SubmitEvaluation(request, _client.Object, CancellationToken.None));

        Assert.Equal("task hub unavailable", ex.Message);
    }

    [Fact]
    public async Task GetEvaluationStatus_Unknown_404Problem()
    {
        Instance("ghost", null);
        var request = TestHttp.Request("GET", "/api/evaluations/ghost");

        var response = await (await Api().GetEvaluationStatus(request, _client.Object, "ghost", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(404, response.Status);
        Assert.Equal("application/problem+json; charset=utf-8", response.ContentType);
        Assert.Contains("'ghost'", response.Json.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task GetEvaluationStatus_Running_202WithProgressAndRetryAfter()
    {
        Instance("nightly-1", Metadata("nightly-1", OrchestrationRuntimeStatus.Running, customStatus: """{"phase":"evaluating","tasksDone":3,"tasksTotal":8}"""));
        var request = TestHttp.Request("GET", "/api/evaluations/nightly-1");

        var response = await (await Api().GetEvaluationStatus(request, _client.Object, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(202, response.Status);
        Assert.Equal("10", response.Headers.RetryAfter.ToString());
        var body = response.Json;
        Assert.Equal("Running", body.GetProperty("runtimeStatus").GetString());
        Assert.Equal("evaluating", body.GetProperty("progress").GetProperty("phase").GetString());
        Assert.Equal(3, body.GetProperty("progress").GetProperty("tasksDone").GetInt32());
        Assert.Equal(Base + "nightly-1/report", body.GetProperty("reportGetUri").GetString());
        Assert.False(body.TryGetProperty("failure", out _));
    }

    [Fact]
    public async Task GetEvaluationStatus_Completed_200WithOutput()
    {
        Instance("nightly-1", Metadata("nightly-1", OrchestrationRuntimeStatus.Completed, output: """{"unfairness":0.012}"""));
        var request = TestHttp.Request("GET", "/api/evaluations/nightly-1");

        var response = await (await Api().GetEvaluationStatus(request, _client.Object, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(200, response.Status);
        Assert.False(response.Headers.ContainsKey("Retry-After"));
        Assert.Equal(0.012, response.Json.GetProperty("output").GetProperty("unfairness").GetDouble());
        Assert.Equal("2026-11-28T02:05:00+00:00", response.Json.GetProperty("lastUpdatedAt").GetString());
    }

    [Fact]
    public async Task GetEvaluationStatus_GpuRequestedCpuUsed_WarningInBodyAndHeader()
    {
        const string warning = "GPU requested but the CPU ran 1 task(s) (en); their speed-ups are CPU speed-ups: no NVIDIA driver";
        Instance("gpu-1", Metadata("gpu-1", OrchestrationRuntimeStatus.Completed, output: $$"""{"runId":"gpu-1","deviceWarning":"{{warning}}"}"""));
        Instance("cpu-1", Metadata("cpu-1", OrchestrationRuntimeStatus.Completed, output: """{"runId":"cpu-1"}"""));
        var request = TestHttp.Request("GET", "/api/evaluations/gpu-1");
        var plain = TestHttp.Request("GET", "/api/evaluations/cpu-1");

        var response = await (await Api().GetEvaluationStatus(request, _client.Object, "gpu-1", CancellationToken.None)).ExecuteAsync(request);
        var other = await (await Api().GetEvaluationStatus(plain, _client.Object, "cpu-1", CancellationToken.None)).ExecuteAsync(plain);

        Assert.Equal(200, response.Status);
        Assert.Equal(warning, response.Json.GetProperty("deviceWarning").GetString());
        Assert.Equal("cpu", response.Headers[EvaluationsApi.DeviceFallbackHeader].ToString());
        Assert.False(other.Json.TryGetProperty("deviceWarning", out _));
        Assert.False(other.Headers.ContainsKey(EvaluationsApi.DeviceFallbackHeader));
    }

    [Fact]
    public async Task GetEvaluationStatus_Failed_200WithFailureDetails()
    {
        Instance("nightly-1", Metadata(
            "nightly-1", OrchestrationRuntimeStatus.Failed, failure: new TaskFailureDetails("ModelLoadException", "model 'demo-drafter' not found", null, null, null)));
        var request = TestHttp.Request("GET", "/api/evaluations/nightly-1");

        var response = await (await Api().GetEvaluationStatus(request, _client.Object, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(200, response.Status);
        var failure = response.Json.GetProperty("failure");
        Assert.Equal("Failed", response.Json.GetProperty("runtimeStatus").GetString());
        Assert.Equal("ModelLoadException", failure.GetProperty("errorType").GetString());
        Assert.Equal("model 'demo-drafter' not found", failure.GetProperty("errorMessage").GetString());
    }

    public static TheoryData<string> BadRunIds => ["Upper", "..", "a b", "a%2Fb", "-leading", new string('a', 65), ""];

    [Theory]
    [MemberData(nameof(BadRunIds))]
    public async Task RouteFunctions_InvalidRunId_400BeforeAnyClientOrStoreCall(string runId)
    {
        var strict = new Mock<DurableTaskClient>(MockBehavior.Strict, "test");
        var api = Api();
        var requests = new[] { "GET", "GET", "POST" }.Select(m => TestHttp.Request(m, "/api/evaluations/x")).ToArray();

        var responses = new[]
        {
            await (await api.GetEvaluationStatus(requests[0], strict.Object, runId, CancellationToken.None)).ExecuteAsync(requests[0]),
            await (await api.GetEvaluationReport(requests[1], runId, CancellationToken.None)).ExecuteAsync(requests[1]),
            await (await api.CancelEvaluation(requests[2], strict.Object, runId, CancellationToken.None)).ExecuteAsync(requests[2]),
        };

        Assert.All(responses, r =>
        {
            Assert.Equal(400, r.Status);
            Assert.Equal("application/problem+json; charset=utf-8", r.ContentType);
            Assert.True(r.Json.GetProperty("errors").TryGetProperty("runId", out _));
        });
        strict.VerifyNoOtherCalls();
        Assert.Empty(_store.Files);
    }

    [Fact]
    public async Task GetEvaluationReport_NotWritten_404()
    {
        var request = TestHttp.Request("GET", "/api/evaluations/nightly-1/report");

        var response = await (await Api().GetEvaluationReport(request, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(404, response.Status);
        Assert.Contains("no report yet", response.Json.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData(null, "report.json", "application/json; charset=utf-8")]
    [InlineData("?format=json", "report.json", "application/json; charset=utf-8")]
    [InlineData("?format=html", "report.html", "text/html; charset=utf-8")]
    public async Task GetEvaluationReport_Written_StoredBytesWithContentType(string? query, string artifactName, string contentType)
    {
        var json = """{"schemaVersion":1,"runId":"nightly-1"}""";
        var html = "<!doctype html><title>nightly-1</title>";
        await WriteArtifactAsync("nightly-1", RunArtifact.ReportJson, json);
        await WriteArtifactAsync("nightly-1", RunArtifact.ReportHtml, html);
        var request = TestHttp.Request("GET", "/api/evaluations/nightly-1/report", query: query);

        var response = await (await Api().GetEvaluationReport(request, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(200, response.Status);
        Assert.Equal(contentType, response.ContentType);
        Assert.Equal(artifactName == "report.json" ? json : html, response.Text);
    }

    [Fact]
    public async Task GetEvaluationReport_UnknownFormat_400NamingFormat()
    {
        await WriteArtifactAsync("nightly-1", RunArtifact.ReportJson, "{}");
        var request = TestHttp.Request("GET", "/api/evaluations/nightly-1/report", query: "?format=pdf");

        var response = await (await Api().GetEvaluationReport(request, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(400, response.Status);
        Assert.Equal("must be 'json' or 'html', got 'pdf'", response.Json.GetProperty("errors").GetProperty("format")[0].GetString());
    }

    [Fact]
    public async Task CancelEvaluation_Unknown_404()
    {
        Instance("ghost", null);
        var request = TestHttp.Request("POST", "/api/evaluations/ghost/cancel");

        var response = await (await Api().CancelEvaluation(request, _client.Object, "ghost", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(404, response.Status);
    }

    [Theory]
    [InlineData(OrchestrationRuntimeStatus.Completed)]
    [InlineData(OrchestrationRuntimeStatus.Failed)]
    [InlineData(OrchestrationRuntimeStatus.Terminated)]
    public async Task CancelEvaluation_Finished_409NotTerminated(OrchestrationRuntimeStatus status)
    {
        Instance("nightly-1", Metadata("nightly-1", status));
        var request = TestHttp.Request("POST", "/api/evaluations/nightly-1/cancel");

        var response = await (await Api().CancelEvaluation(request, _client.Object, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(409, response.Status);
        Assert.Contains(status.ToString(), response.Json.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData(OrchestrationRuntimeStatus.Running)]
    [InlineData(OrchestrationRuntimeStatus.Pending)]
    public async Task CancelEvaluation_Running_RecordsRequestRaisesCancelEvent202(OrchestrationRuntimeStatus status)
    {
        Instance("nightly-1", Metadata("nightly-1", status, customStatus: """{"phase":"evaluating","tasksDone":1,"tasksTotal":2}"""));
        _client.Setup(c => c.RaiseEventAsync("nightly-1", DurableNames.CancelEvent, "cancelled by request", It.IsAny<CancellationToken>()))
            .Returns(Task.CompletedTask);
        var request = TestHttp.Request("POST", "/api/evaluations/nightly-1/cancel");
        Assert.False(await _store.Store.IsRequestedAsync("nightly-1"));

        var response = await (await Api().CancelEvaluation(request, _client.Object, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(202, response.Status);
        Assert.Equal(Base + "nightly-1", response.Headers.Location.ToString());
        Assert.True(await _store.Store.IsRequestedAsync("nightly-1"));
        _client.Verify(c => c.RaiseEventAsync("nightly-1", DurableNames.CancelEvent, It.IsAny<object?>(), It.IsAny<CancellationToken>()), Times.Once);
        _client.Verify(c => c.TerminateInstanceAsync(It.IsAny<string>(), It.IsAny<TerminateInstanceOptions?>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Fact]
    public async Task CancelEvaluation_Mitigating_TerminatesRecursively202()
    {
        Instance("nightly-1", Metadata("nightly-1", OrchestrationRuntimeStatus.Running, customStatus: """{"phase":"mitigating","tasksDone":2,"tasksTotal":2}"""));
        TerminateInstanceOptions? terminated = null;
        _client.Setup(c => c.TerminateInstanceAsync("nightly-1", It.IsAny<TerminateInstanceOptions?>(), It.IsAny<CancellationToken>()))
            .Callback((string _, TerminateInstanceOptions? options, CancellationToken _) => terminated = options)
            .Returns(Task.CompletedTask);
        var request = TestHttp.Request("POST", "/api/evaluations/nightly-1/cancel");

        var response = await (await Api().CancelEvaluation(request, _client.Object, "nightly-1", CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(202, response.Status);
        Assert.Equal("cancelled by request", terminated!.Output);
        Assert.True(terminated.Recursive);
        Assert.True(await _store.Store.IsRequestedAsync("nightly-1"));
    }

    [Theory]
    [InlineData(OrchestrationRuntimeStatus.Failed, null)]
    [InlineData(OrchestrationRuntimeStatus.Terminated, "\"cancelled by request\"")]
    [InlineData(OrchestrationRuntimeStatus.Completed, """{"runId":"nightly-1","tasks":[],"cancelled":true}""")]
    public async Task SubmitEvaluation_FailedTerminatedOrCancelledRun_PurgedClearedAndStartedAgain(OrchestrationRuntimeStatus status, string? output)
    {
        Instance("nightly-1", Metadata("nightly-1", status, output: output));
        _client.Setup(c => c.PurgeInstanceAsync("nightly-1", It.IsAny<CancellationToken>()))
            .ReturnsAsync(new PurgeResult(1));
        await _store.Store.RequestAsync("nightly-1", "cancelled by request", DateTimeOffset.UtcNow);
        var request = TestHttp.Json("POST", "/api/evaluations", Submission);

        var response = await (await Api().SubmitEvaluation(request, _client.Object, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(202, response.Status);
        var scheduled = Assert.Single(_scheduled);
        Assert.Equal("nightly-1", scheduled.Options!.InstanceId);
        Assert.False(await _store.Store.IsRequestedAsync("nightly-1"));
        _client.Verify(c => c.PurgeInstanceAsync("nightly-1", It.IsAny<CancellationToken>()), Times.Once);
    }

    [Theory]
    [InlineData(OrchestrationRuntimeStatus.Completed, """{"runId":"nightly-1","tasks":[],"cancelled":false}""")]
    [InlineData(OrchestrationRuntimeStatus.Running, null)]
    [InlineData(OrchestrationRuntimeStatus.Pending, null)]
    public async Task SubmitEvaluation_CompletedOrRunning_NotStartedAgain(OrchestrationRuntimeStatus status, string? output)
    {
        Instance("nightly-1", Metadata("nightly-1", status, output: output));
        var request = TestHttp.Json("POST", "/api/evaluations", Submission);

        var response = await (await Api().SubmitEvaluation(request, _client.Object, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(202, response.Status);
        Assert.Empty(_scheduled);
    }

    private Task WriteArtifactAsync(string runId, RunArtifact artifact, string text) =>
        _store.Store.WriteArtifactAsync(runId, artifact, (s, ct) => s.WriteAsync(Encoding.UTF8.GetBytes(text), ct).AsTask());
}
