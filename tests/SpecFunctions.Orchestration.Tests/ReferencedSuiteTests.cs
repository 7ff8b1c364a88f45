using System.Text;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;

namespace SpecFunctions.Orchestration.Tests;

/// <summary>Suites by reference through the real orchestration: read in PrepareRun, refused there before anything runs.</summary>
public sealed class ReferencedSuiteTests(TinyModelsFixture models) : IClassFixture<TinyModelsFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    private static EvaluationRequest Request(string runId, string blob) => new()
    {
        RunId = runId,
        Suite = new SuiteDefinition { Name = "referenced", Tasks = [], Source = new SuiteSource { Blob = blob } },
        Verifier = "tiny-verifier",
        Drafter = "tiny-drafter",
        Settings = new EvaluationSettings { Gamma = 3, MaxNewTokens = 12, Temperature = 0, Repeats = 1 },
    };

    private async Task<(DurableTaskTestHost Host, LocalFolderObjectStore Objects, CountingObserver Observer)> StartAsync()
    {
        var objects = new LocalFolderObjectStore(Directory.CreateTempSubdirectory("specfn-store-").FullName);
        var observer = new CountingObserver();
        var host = await DurableTaskTestHost.StartAsync(
            registry => registry.AddSpecFunctionsTasks(),
            new DurableTaskTestHostOptions
            {
                ConfigureServices = services =>
                {
                    services.AddSingleton<ITraceStore>(new TraceStore(objects));
                    services.AddSingleton(models.Catalog);
                    services.AddSingleton(new OnnxModelOptions { IntraOpThreads = 1 });
                    services.AddSingleton<IEvaluationObserver>(observer);
                    services.AddSpecFunctionsEvaluation(o => o.MaxConcurrentEvaluations = 2);
                },
            });
        return (host, objects, observer);
    }

    private static async Task UploadAsync(IObjectStore objects, string path, string text)
    {
        await objects.WriteConditionalAsync(path, Encoding.UTF8.GetBytes(text), ifMatch: null);
    }

    private static async Task<OrchestrationMetadata> RunAsync(DurableTaskClient client, EvaluationRequest request)
    {
        await client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, request, new Microsoft.DurableTask.StartOrchestrationOptions(request.RunId));
        using var cts = new CancellationTokenSource(Timeout);
        return await client.WaitForInstanceCompletionAsync(request.RunId, getInputsAndOutputs: true, cts.Token);
    }

    [Fact]
    public async Task EvaluateSuite_ReferencedSuite_EvaluatesTheBlobsTasks()
    {
        var (host, objects, observer) = await StartAsync();
        await using var _ = host;
        await UploadAsync(objects, "suites/two.tsv", "en\tprompt\tthe quick brown fox\nsw\tprompt\tmbweha wa kahawia\nen\ttraining\tjumps over\nen\tprompt\tthe lazy dog\n");

        var state = await RunAsync(host.Client, Request("by-reference", "suites/two.tsv"));

        Assert.True(state.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{state.RuntimeStatus}: {state.FailureDetails?.ErrorMessage}");
        var outcome = state.ReadOutputAs<EvaluationOutcome>()!;
        Assert.Equal([("en", 2), ("sw", 1)], outcome.Tasks.Select(t => (t.TaskId, t.Prompts)));
        var manifest = (await new TraceStore(objects).GetManifestAsync("by-reference"))!;
        Assert.Equal(["en", "sw"], manifest.Tasks.Keys);
        Assert.Equal("suites/two.tsv", manifest.Submission!["suite"]!["source"]!["blob"]!.GetValue<string>());
        Assert.Equal(["en", "sw"], (await ReportPublisher.ReadAsync(new TraceStore(objects), "by-reference"))!.Tasks.Select(t => t.TaskId));
        Assert.Equal(2, observer.Started);
    }

    [Fact]
    public async Task EvaluateSuite_WithPrediction_ReportSetsItAgainstTheMeasuredRun()
    {
        var (host, objects, _) = await StartAsync();
        await using var _ = host;
        await UploadAsync(objects, "suites/one.jsonl", "{\"task\":\"en\",\"prompt\":\"the quick brown fox\"}\n{\"task\":\"en\",\"prompt\":\"jumps over\"}\n");
        var profile = new Core.Estimation.CostProfile { VerifierMsPerToken = 3, DrafterMsPerToken = 1, Alpha = 0.7, Source = "test" };
        var request = Request("predicted", "suites/one.jsonl") with
        {
            Prediction = new Core.Estimation.RunPrediction { Replicas = 2, WallSeconds = 42, GpuSeconds = 40, Cost = 0.5, Profile = profile },
        };

        var state = await RunAsync(host.Client, request);

        Assert.True(state.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{state.RuntimeStatus}: {state.FailureDetails?.ErrorMessage}");
        var store = new TraceStore(objects);
        var report = (await ReportPublisher.ReadAsync(store, "predicted"))!;
        var manifest = (await store.GetManifestAsync("predicted"))!;
        var p = report.Prediction!;
        Assert.Equal((2, "test", 42.0, 40.0, 0.5, 3.0, 1.0, 0.7), (p.Replicas, p.ProfileSource, p.PredictedWallSeconds, p.PredictedGpuSeconds, p.PredictedCost, p.PredictedVerifierMsPerToken, p.PredictedDrafterMsPerToken, p.PredictedAlpha));
        Assert.Equal(report.Suite.BaselineMsPerToken!.Value, p.ActualVerifierMsPerToken!.Value, 12);
        Assert.Equal(report.Suite.BaselineMsPerToken!.Value * report.Suite.CostRatio, p.ActualDrafterMsPerToken!.Value, 12);
        Assert.Equal(report.Tasks.Single().Alpha, p.ActualAlpha, 12);
        Assert.Equal((report.GeneratedAt - manifest.CreatedAt).TotalSeconds, p.ActualWallSeconds, 6);
        var html = await HtmlAsync(store, "predicted");
        Assert.Contains("Predicted against actual (2 replica(s); profile: test)", html, StringComparison.Ordinal);
        Assert.Contains("<td>42.0</td>", html, StringComparison.Ordinal);
    }

    private static async Task<string> HtmlAsync(TraceStore store, string runId)
    {
        await using var stream = (await store.OpenArtifactAsync(runId, RunArtifact.ReportHtml))!;
        return await new StreamReader(stream).ReadToEndAsync();
    }

    [Fact]
    public async Task EvaluateSuite_WithoutPrediction_ReportHasNoPredictionSection()
    {
        var (host, objects, _) = await StartAsync();
        await using var _ = host;
        await UploadAsync(objects, "suites/one.tsv", "en\tprompt\tthe quick brown fox\n");

        var state = await RunAsync(host.Client, Request("unpredicted", "suites/one.tsv"));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, state.RuntimeStatus);
        var report = (await ReportPublisher.ReadAsync(new TraceStore(objects), "unpredicted"))!;
        Assert.Null(report.Prediction);
        Assert.DoesNotContain("prediction-table", await HtmlAsync(new TraceStore(objects), "unpredicted"), StringComparison.Ordinal);
        Assert.True(report.Suite.BaselineMsPerToken > 0);
    }

    [Fact]
    public async Task EvaluateSuite_ReferencedSuiteWithOneBadLine_FailsBeforeAnythingRuns()
    {
        var (host, objects, observer) = await StartAsync();
        await using var _ = host;
        var lines = Enumerable.Range(0, 300).Select(i => i == 217 ? "{\"task\":\"en\",\"prompt\":\"\"}" : $"{{\"task\":\"t{i % 3}\",\"prompt\":\"prompt {i}\"}}");
        await UploadAsync(objects, "suites/bad.jsonl", string.Join('\n', lines));

        var state = await RunAsync(host.Client, Request("bad-reference", "suites/bad.jsonl"));

        Assert.Equal(OrchestrationRuntimeStatus.Failed, state.RuntimeStatus);
        Assert.Contains("referenced suite 'suites/bad.jsonl' line 218: the prompt must not be empty or whitespace", state.FailureDetails!.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(0, observer.Started);
        Assert.Null(await new TraceStore(objects).GetManifestAsync("bad-reference"));
        var written = new List<string>();
        await foreach (var path in objects.ListAsync(""))
        {
            written.Add(path);
        }

        Assert.Equal(["suites/bad.jsonl"], written);
    }

    [Fact]
    public async Task EvaluateSuite_ReferencedBlobMissing_FailsWithTheBlobsName()
    {
        var (host, objects, observer) = await StartAsync();
        await using var _ = host;

        var state = await RunAsync(host.Client, Request("missing-reference", "suites/none.jsonl"));

        Assert.Equal(OrchestrationRuntimeStatus.Failed, state.RuntimeStatus);
        Assert.Contains($"referenced suite 'suites/none.jsonl': no such blob in {objects.Location}; upload it first", state.FailureDetails!.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(0, observer.Started);
    }

    private sealed class CountingObserver : IEvaluationObserver
    {
        private int _started;

        public int Started => _started;

        public void TaskStarted(string runId, string taskId, int prompts) => Interlocked.Increment(ref _started);

        public void PromptCompleted(string runId, string taskId, int completed, int total)
        {
        }

        public void TaskCompleted(string runId, TaskSummary summary)
        {
        }
    }
}
