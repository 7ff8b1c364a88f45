using System.Text;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Functions.Http;
using SpecFunctions.Onnx;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Tests;

/// <summary><c>POST /api/evaluations?dryRun=true</c>: 200 with the estimate, nothing scheduled or written; bad input 400.</summary>
public sealed class DryRunTests : IDisposable
{
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    private EvaluationsApi Api()
    {
        var models = new ModelCache(new ModelCatalog(new Dictionary<string, string>()), OnnxModelOptions.Default, _store.Store, Options.Create(new EvaluationOptions()), NullLogger<ModelCache>.Instance);
        var estimator = new RunEstimator(_store.Store, models, Options.Create(new EvaluationLimits()), Options.Create(new EvaluationOptions()));
        var options = Options.Create(new EstimateOptions { ColdStartSeconds = 10, PerShardOverheadSeconds = 0.5, PricePerSecond = 0.01 });
        return new EvaluationsApi(TestParsers.Default(), _store.Store, TimeProvider.System, NullLogger<EvaluationsApi>.Instance, estimator, options);
    }

    // A stored report whose profile is b = 10 ms, c = 0.2 (d = 2 ms), α = mean(0.4, 0.6) = 0.5, v = s_2 − 2c = 1.4 − 0.4 = 1.
    private async Task StoreProfileRunAsync()
    {
        TaskReport Task(string id, double alpha) => new()
        {
            TaskId = id, Status = TaskState.Committed, Prompts = 2, Steps = 4, DraftedTokens = 8, AcceptedTokens = 4, GeneratedTokens = 8,
            AcceptanceRate = 0.5, Alpha = alpha, CrossEntropy = 1, Kl = 0.5, MeanAcceptedLength = 2, AnalyticalSpeedup = 1.2,
            ExpectedSpeedupPerPrefix = 1.2, RefinedSpeedup = 1.2, SpeedupBound = 1, SpeedupBoundCrossEntropy = 1,
        };
        var report = new EvaluationReport
        {
            RunId = "profile-run",
            Suite = new SuiteReport
            {
                Gamma = 2, CostRatio = 0.2, VerificationCostRatio = 1.1, StepCostProfile = [0.9, 1.4], BaselineMsPerToken = 10,
                Fairness = new FairnessReport { Unfairness = 0, MeanCrossEntropy = 1, SpeedupVariance = 0, SpeedupRange = 0, MinMaxSpeedupRatio = 1, MeanSpeedup = 1.2, WorstTask = "x" },
            },
            Tasks = [Task("x", 0.4), Task("y", 0.6)],
        };
        await _store.Store.WriteArtifactAsync("profile-run", RunArtifact.ReportJson, (s, ct) => s.WriteAsync(Encoding.UTF8.GetBytes(report.ToJson()), ct).AsTask());
    }

    private const string Body = """
        {"runId":"dry","suite":{"name":"s","tasks":[{"id":"en","prompts":["a","b","c"]},{"id":"de","prompts":["d"]}]},
         "verifier":"demo-verifier","drafter":"demo-drafter","settings":{"gamma":2,"maxNewTokens":4,"repeats":1}}
        """;

    [Fact]
    public async Task SubmitEvaluation_DryRunWithStoredProfile_200EstimateByHandNothingScheduledOrWritten()
    {
        await StoreProfileRunAsync();
        var before = _store.Files;
        var client = new Mock<DurableTaskClient>(MockBehavior.Strict, "test");
        var request = TestHttp.Request("POST", "/api/evaluations", Encoding.UTF8.GetBytes(Body), "application/json", query: "?dryRun=true&promptsPerShard=2&maxReplicas=2&profileRun=profile-run");

        var response = await (await Api().SubmitEvaluation(request, client.Object, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(200, response.Status);
        var estimate = response.Json;
        // A prompt: 4·s_2 + 4·b = 32 + 40 = 72 ms; the step profile of a task's first 2 prompts: 64 ms each.
        // en: shards [2, 1] → 272 and 72 ms; de: [1] → 136 ms; + 0.5 s each: 0.772, 0.572, 0.636 s = 1.98 s.
        // 2 replicas, longest first: 0.772 → r0, 0.636 → r1, 0.572 → r1 (1.208); 10 s cold start each, 0.01 a second.
        Assert.Equal(3, estimate.GetProperty("shards").GetInt32());
        Assert.Equal(1.98, estimate.GetProperty("gpuSeconds").GetDouble(), 9);
        var rows = estimate.GetProperty("byReplicas").EnumerateArray().ToList();
        Assert.Equal([11.98, 11.208], rows.Select(r => Math.Round(r.GetProperty("wallSeconds").GetDouble(), 9)));
        Assert.Equal([0.1198, 0.2198], rows.Select(r => Math.Round(r.GetProperty("cost").GetDouble(), 9)));
        Assert.Equal(1.0, estimate.GetProperty("profile").GetProperty("verificationCostRatio").GetDouble(), 9);
        Assert.Equal("report of run 'profile-run'", estimate.GetProperty("profile").GetProperty("source").GetString());
        client.VerifyNoOtherCalls();
        Assert.Equal(before, _store.Files);
    }

    [Theory]
    [InlineData("?dryRun=yes", "dryRun")]
    [InlineData("?dryRun=true&promptsPerShard=0", "promptsPerShard")]
    [InlineData("?dryRun=true&profileRun=No!", "profileRun")]
    [InlineData("?dryRun=true&profileRun=never-ran", "profileRun")]
    [InlineData("?promptsPerShard=4", "$")]
    public async Task SubmitEvaluation_BadEstimateQuery_400NamingIt(string query, string field)
    {
        var client = new Mock<DurableTaskClient>(MockBehavior.Strict, "test");
        var request = TestHttp.Request("POST", "/api/evaluations", Encoding.UTF8.GetBytes(Body), "application/json", query: query);

        var response = await (await Api().SubmitEvaluation(request, client.Object, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(400, response.Status);
        Assert.Equal("application/problem+json; charset=utf-8", response.ContentType);
        Assert.True(response.Json.GetProperty("errors").TryGetProperty(field, out _), response.Text);
        client.VerifyNoOtherCalls();
        Assert.Empty(_store.Files);
    }

    [Fact]
    public async Task SubmitEvaluation_DryRunOfReferencedSuiteWithBadLine_400NamingBlobAndLine()
    {
        await _store.Objects.WriteConditionalAsync("suites/s.jsonl", Encoding.UTF8.GetBytes("{\"task\":\"en\",\"prompt\":\"a\"}\n{\"task\":\"en\",\"prompt\":1}\n"), ifMatch: null);
        var before = _store.Files;
        var client = new Mock<DurableTaskClient>(MockBehavior.Strict, "test");
        var body = """{"suite":{"name":"s","source":{"blob":"suites/s.jsonl"}},"verifier":"demo-verifier","drafter":"demo-drafter"}""";
        var request = TestHttp.Request("POST", "/api/evaluations", Encoding.UTF8.GetBytes(body), "application/json", query: "?dryRun=true");

        var response = await (await Api().SubmitEvaluation(request, client.Object, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(400, response.Status);
        Assert.Equal("referenced suite 'suites/s.jsonl' line 2: field 'prompt' must be a string", response.Json.GetProperty("errors").GetProperty("suite.source.blob")[0].GetString());
        client.VerifyNoOtherCalls();
        Assert.Equal(before, _store.Files);
    }

    [Fact]
    public async Task SubmitEvaluation_DryRunOfHundredTasksOfThousandPromptsByReference_EstimatedByHand()
    {
        await StoreProfileRunAsync();
        var lines = new StringBuilder();
        for (var t = 0; t < 100; t++)
        {
            for (var p = 0; p < 1000; p++)
            {
                lines.Append(System.Globalization.CultureInfo.InvariantCulture, $"t{t:000}\tprompt\tquestion {p} of task {t}\n");
            }
        }

        await _store.Objects.WriteConditionalAsync("suites/audit.tsv", Encoding.UTF8.GetBytes(lines.ToString()), ifMatch: null);
        var before = _store.Files;
        var client = new Mock<DurableTaskClient>(MockBehavior.Strict, "test");
        var body = """{"suite":{"name":"audit","source":{"blob":"suites/audit.tsv"}},"verifier":"demo-verifier","drafter":"demo-drafter","settings":{"gamma":2,"maxNewTokens":4,"repeats":1}}""";
        var request = TestHttp.Request("POST", "/api/evaluations", Encoding.UTF8.GetBytes(body), "application/json", query: "?dryRun=true&promptsPerShard=50&profileRun=profile-run");

        var response = await (await Api().SubmitEvaluation(request, client.Object, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(200, response.Status);
        var estimate = response.Json;
        // 100 × ceil(1000 / 50) = 2000 shards of 50 · 72 ms = 3.6 s; a task's first shard adds the step profile of its
        // first 2 prompts, 2 · 64 ms: 3.728 s. + 0.5 s overhead each: 100 shards of 4.228 s and 1 900 of 4.1 s.
        Assert.Equal((100, 100_000, 2000), (estimate.GetProperty("tasks").GetInt32(), estimate.GetProperty("prompts").GetInt32(), estimate.GetProperty("shards").GetInt32()));
        Assert.Equal((100 * 4.228) + (1900 * 4.1), estimate.GetProperty("gpuSeconds").GetDouble(), 6);
        // 8 replicas (the default), longest first after a 10 s cold start: the 100 long shards go 13, 13, 13, 13, 12, 12,
        // 12, 12; the short ones then even the loads out at 250 shards each, the first four 13 · 4.228 + 237 · 4.1.
        var eight = estimate.GetProperty("byReplicas")[7];
        var wall = 10 + (13 * 4.228) + (237 * 4.1);
        Assert.Equal(wall, eight.GetProperty("wallSeconds").GetDouble(), 6);
        Assert.Equal(((100 * 3.728) + (1900 * 3.6)) / 8 / wall, eight.GetProperty("efficiency").GetDouble(), 9);
        client.VerifyNoOtherCalls();
        Assert.Equal(before, _store.Files);
    }
}
