using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;
using SpecFunctions.OnnxGraphs;
using Xunit.Abstractions;
using SpecFunctions.Core.Models;

namespace SpecFunctions.Orchestration.Tests;

/// <summary>Two tiny decoder-with-past transformers (different seeds) written once as real ONNX model folders.</summary>
public sealed class TinyModelsFixture : IDisposable
{
    public TinyModelsFixture()
    {
        Root = Directory.CreateTempSubdirectory("specfn-orch-").FullName;
        TinyTransformerBuilder.WriteModelFolder(Path.Combine(Root, "verifier"), new TinyTransformerConfig { Seed = 1 }, "tiny-verifier");
        TinyTransformerBuilder.WriteModelFolder(Path.Combine(Root, "drafter"), new TinyTransformerConfig { Seed = 1, Layers = 1 }, "tiny-drafter");
    }

    public string Root { get; }

    public IModelCatalog Catalog => new ModelCatalog(new Dictionary<string, string>
    {
        ["tiny-verifier"] = Path.Combine(Root, "verifier"),
        ["tiny-drafter"] = Path.Combine(Root, "drafter"),
    });

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class EvaluateSuiteTests(TinyModelsFixture models, ITestOutputHelper output) : IClassFixture<TinyModelsFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    private static EvaluationRequest Request(string runId, int tasks, int promptsPerTask = 2, int maxNewTokens = 24) => new()
    {
        RunId = runId,
        Suite = new SuiteDefinition
        {
            Name = "tiny",
            Tasks = [.. Enumerable.Range(0, tasks).Select(i => new SuiteTask
            {
                Id = $"t{i:00}",
                Prompts = [.. Enumerable.Range(0, promptsPerTask).Select(j => $"prompt {i} {j}: the quick brown fox")],
            })],
        },
        Verifier = "tiny-verifier",
        Drafter = "tiny-drafter",
        Settings = new EvaluationSettings { Gamma = 3, MaxNewTokens = maxNewTokens, Temperature = 0 },
    };

    private async Task<(DurableTaskTestHost Host, ITraceStore Store)> StartAsync(
        ITraceStore? store = null, int concurrency = 4, Func<ITraceStore, ITraceStore>? wrap = null, IEvaluationObserver? observer = null)
    {
        store ??= new TraceStore(new LocalFolderObjectStore(Directory.CreateTempSubdirectory("specfn-store-").FullName));
        var effective = wrap?.Invoke(store) ?? store;
        var host = await DurableTaskTestHost.StartAsync(
            registry => registry.AddSpecFunctionsTasks(),
            new DurableTaskTestHostOptions
            {
                ConfigureServices = services =>
                {
                    services.AddSingleton(effective);
                    services.AddSingleton(models.Catalog);
                    services.AddSingleton(new OnnxModelOptions { IntraOpThreads = 1 });
                    services.AddSingleton(observer ?? new NullEvaluationObserver());
                    services.AddSpecFunctionsEvaluation(o =>
                    {
                        o.MaxConcurrentEvaluations = concurrency;
                        o.CancellationPollSeconds = 0.05;
                    });
                },
            });
        return (host, effective);
    }

    private static async Task<(OrchestrationMetadata State, EvaluationOutcome Outcome)> RunAsync(DurableTaskClient client, EvaluationRequest request)
    {
        await client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, request, new Microsoft.DurableTask.StartOrchestrationOptions(request.RunId));
        using var cts = new CancellationTokenSource(Timeout);
        var state = await client.WaitForInstanceCompletionAsync(request.RunId, getInputsAndOutputs: true, cts.Token);
        Assert.True(state.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{state.RuntimeStatus}: {state.FailureDetails?.ErrorMessage}");
        return (state, state.ReadOutputAs<EvaluationOutcome>()!);
    }

    [Fact]
    public async Task EvaluateSuite_FourTasks_RunConcurrentlyAndPublishReport()
    {
        var (host, store) = await StartAsync(concurrency: 4);
        await using var _ = host;
        var (state, outcome) = await RunAsync(host.Client, Request("fanout", tasks: 4));

        Assert.All(outcome.Tasks, t => Assert.Equal(TaskOutcome.Committed, t.Status));
        var spans = outcome.Tasks.Select(t => (t.StartedAt!.Value, t.CompletedAt!.Value)).ToList();
        var overlapping = spans.SelectMany((a, i) => spans.Skip(i + 1).Where(b => a.Item1 < b.Item2 && b.Item1 < a.Item2)).Count();
        output.WriteLine($"overlapping task pairs: {overlapping} of {spans.Count * (spans.Count - 1) / 2}");
        Assert.True(overlapping > 0, "fan-out ran the tasks one after another");

        var progress = state.ReadCustomStatusAs<EvaluationProgress>()!;
        Assert.Equal((EvaluationPhase.Done, 4, 4), (progress.Phase, progress.TasksDone, progress.TasksTotal));

        var report = await ReportPublisher.ReadAsync(store, "fanout");
        Assert.NotNull(report);
        Assert.Equal(["t00", "t01", "t02", "t03"], report!.Tasks.Select(t => t.TaskId));
        var d = report.Tasks.Select(t => t.CrossEntropy).ToList();
        var mean = d.Average();
        Assert.Equal(d.Average(x => (x - mean) * (x - mean)), report.Suite.Fairness.Unfairness, 12);
        Assert.Equal(outcome.Fairness.Unfairness!.Value, report.Suite.Fairness.Unfairness, 12);
        Assert.NotNull(report.Decision);
        Assert.NotNull(await store.OpenArtifactAsync("fanout", RunArtifact.ReportHtml));
    }

    [Fact]
    public async Task EvaluateSuite_TaskFailingTwice_IsRetriedAndCommitted()
    {
        FaultyTraceStore? faulty = null;
        var (host, _) = await StartAsync(wrap: s => faulty = new FaultyTraceStore(s, new Dictionary<string, int> { ["t01"] = 2 }));
        await using var _h = host;
        var (_, outcome) = await RunAsync(host.Client, Request("retry", tasks: 2, promptsPerTask: 1));

        Assert.All(outcome.Tasks, t => Assert.Equal(TaskOutcome.Committed, t.Status));
        Assert.Equal(3, faulty!.Attempts["t01"]);
        Assert.Equal(1, faulty.Attempts["t00"]);
    }

    [Fact]
    public async Task EvaluateSuite_TaskAlwaysFailing_EndsFailedAndReportCoversTheRest()
    {
        var (host, store) = await StartAsync(wrap: s => new FaultyTraceStore(s, new Dictionary<string, int> { ["t02"] = int.MaxValue }));
        await using var _h = host;
        var (_, outcome) = await RunAsync(host.Client, Request("broken", tasks: 3, promptsPerTask: 1));

        var failed = Assert.Single(outcome.Tasks, t => t.Status == TaskOutcome.Failed);
        Assert.Equal("t02", failed.TaskId);
        Assert.Contains("injected outage", failed.Error);
        var report = await ReportPublisher.ReadAsync(store, "broken");
        Assert.Equal(["t00", "t01"], report!.Tasks.Select(t => t.TaskId));
        var incomplete = Assert.Single(report.IncompleteTasks);
        Assert.Equal(("t02", TaskState.Failed), (incomplete.TaskId, incomplete.Status));
        Assert.Equal(TaskState.Failed, (await store.GetManifestAsync("broken"))!.Tasks["t02"].Status);
    }

    [Fact]
    public async Task EvaluateSuite_RerunOnSameStore_ReusesTracesWithIdenticalFairness()
    {
        var (host, store) = await StartAsync();
        await using var _h = host;
        var (_, first) = await RunAsync(host.Client, Request("first", tasks: 3, promptsPerTask: 1));
        var (_, second) = await RunAsync(host.Client, Request("second", tasks: 3, promptsPerTask: 1));

        Assert.All(first.Tasks, t => Assert.Equal(TaskOutcome.Committed, t.Status));
        Assert.All(second.Tasks, t => Assert.Equal(TaskOutcome.Reused, t.Status));
        Assert.Equal(first.Fairness.Unfairness, second.Fairness.Unfairness);
        Assert.Equal(first.Fairness.WorstTask, second.Fairness.WorstTask);
        Assert.Equal(first.Fairness.Decision, second.Fairness.Decision);
        var a = await ReportPublisher.ReadAsync(store, "first");
        var b = await ReportPublisher.ReadAsync(store, "second");
        Assert.Equal(a!.Tasks.Select(t => t.Alpha), b!.Tasks.Select(t => t.Alpha));
    }

    [Fact]
    public async Task EvaluateSuite_MeasureAfresh_NeverReusesAnotherRunsTraces()
    {
        var (host, store) = await StartAsync();
        await using var _h = host;
        await RunAsync(host.Client, Request("manual", tasks: 2, promptsPerTask: 1));
        var (_, audit) = await RunAsync(host.Client, Request("audit-1", tasks: 2, promptsPerTask: 1) with { MeasureAfresh = true });

        Assert.All(audit.Tasks, t => Assert.Equal(TaskOutcome.Committed, t.Status));
        var manifest = (await store.GetManifestAsync("audit-1"))!;
        Assert.All(manifest.Tasks.Values, t => Assert.Equal("audit-1", t.Trace!.RunId));
        Assert.Equal((await store.GetManifestAsync("manual"))!.Tasks["t00"].ContentKey, manifest.Tasks["t00"].ContentKey);
    }

    [Fact]
    public async Task EvaluateSuite_CancelledBeforeItStarts_NoTaskEvaluated_NothingCommitted()
    {
        var (host, store) = await StartAsync();
        await using var _h = host;
        await store.RequestAsync("cancel-early", "cancelled by request", DateTimeOffset.UtcNow);
        await host.Client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, Request("cancel-early", tasks: 3), new Microsoft.DurableTask.StartOrchestrationOptions("cancel-early"));
        await host.Client.RaiseEventAsync("cancel-early", DurableNames.CancelEvent, "cancelled by request");
        using var cts = new CancellationTokenSource(Timeout);
        var state = await host.Client.WaitForInstanceCompletionAsync("cancel-early", getInputsAndOutputs: true, cts.Token);
        var outcome = state.ReadOutputAs<EvaluationOutcome>()!;

        Assert.Equal(OrchestrationRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.True(outcome.Cancelled);
        Assert.All(outcome.Tasks, t => Assert.Equal(TaskOutcome.Cancelled, t.Status));
        Assert.Equal("not-evaluated", outcome.Fairness.Decision);
        Assert.Equal(EvaluationPhase.Cancelled, state.ReadCustomStatusAs<EvaluationProgress>()!.Phase);
        var manifest = (await store.GetManifestAsync("cancel-early"))!;
        Assert.All(manifest.Tasks.Values, t => Assert.Equal(TaskState.Cancelled, t.Status));
        Assert.All(manifest.Tasks.Values, t => Assert.Null(t.Trace));
    }

    [Fact]
    public async Task EvaluateSuite_CancelledWhileTheSecondTaskRuns_FirstKept_SecondStopsBetweenPrompts_ThirdNeverStarts()
    {
        const int prompts = 40;
        var observer = new CancelOnSecondTask();
        var (host, store) = await StartAsync(concurrency: 1, observer: observer);
        await using var _h = host;
        observer.Cancel = () =>
        {
            store.RequestAsync("cancel-mid", "cancelled by request", DateTimeOffset.UtcNow).GetAwaiter().GetResult();
            host.Client.RaiseEventAsync("cancel-mid", DurableNames.CancelEvent, "cancelled by request").GetAwaiter().GetResult();
        };
        await host.Client.ScheduleNewOrchestrationInstanceAsync(
            DurableNames.EvaluateSuite, Request("cancel-mid", tasks: 3, promptsPerTask: prompts), new Microsoft.DurableTask.StartOrchestrationOptions("cancel-mid"));
        using var cts = new CancellationTokenSource(Timeout);
        var state = await host.Client.WaitForInstanceCompletionAsync("cancel-mid", getInputsAndOutputs: true, cts.Token);
        var outcome = state.ReadOutputAs<EvaluationOutcome>()!;

        Assert.True(outcome.Cancelled);
        var (first, second) = (observer.Started[0], observer.Started[1]);
        var third = outcome.Tasks.Select(t => t.TaskId).Single(id => id != first && id != second);
        var status = outcome.Tasks.ToDictionary(t => t.TaskId, t => t.Status);
        Assert.Equal(TaskOutcome.Committed, status[first]);
        Assert.Equal(TaskOutcome.Cancelled, status[second]);
        Assert.Equal(TaskOutcome.Cancelled, status[third]);
        output.WriteLine($"second task stopped after {observer.Completed[second]} of {prompts} prompts");
        Assert.InRange(observer.Completed[second], 1, prompts - 1);
        Assert.False(observer.Completed.ContainsKey(third), "the task that had not started was evaluated");

        var report = await ReportPublisher.ReadAsync(store, "cancel-mid");
        Assert.Equal([first], report!.Tasks.Select(t => t.TaskId));
        Assert.Equal(new[] { second, third }.Order(), report.IncompleteTasks.Select(t => t.TaskId).Order());
        Assert.All(report.IncompleteTasks, t => Assert.Equal(TaskState.Cancelled, t.Status));
        Assert.Equal(prompts, await store.ReadTraceAsync("cancel-mid", first).CountAsync(r => r is Core.Tracing.PromptTrace));
    }

    /// <summary>Asks for the run's cancellation once the second task to start has finished one prompt.</summary>
    private sealed class CancelOnSecondTask : IEvaluationObserver
    {
        private readonly object _gate = new();

        public Action Cancel { get; set; } = () => { };

        public List<string> Started { get; } = [];

        public Dictionary<string, int> Completed { get; } = [];

        public void TaskStarted(string runId, string taskId, int prompts)
        {
            lock (_gate)
            {
                Started.Add(taskId);
            }
        }

        public void PromptCompleted(string runId, string taskId, int completed, int total)
        {
            bool cancel;
            lock (_gate)
            {
                Completed[taskId] = completed;
                cancel = Started.Count == 2 && Started[1] == taskId && completed == 1;
            }

            if (cancel)
            {
                Cancel();
            }
        }

        public void TaskCompleted(string runId, TaskSummary summary)
        {
        }
    }

    [Fact]
    public async Task EvaluateSuite_IgnoreEos_IsPartOfTheContentKey_AndDropsTheStopTokens()
    {
        var (host, _) = await StartAsync();
        await using var _h = host;
        var (_, first) = await RunAsync(host.Client, Request("with-eos", tasks: 2, promptsPerTask: 1));
        var ignoring = Request("ignore-eos", tasks: 2, promptsPerTask: 1);
        var (_, second) = await RunAsync(host.Client, ignoring with { Settings = ignoring.Settings with { IgnoreEos = true } });

        // Same prompts, models and budget: only ignoreEos differs, and the traces must not be reused across it.
        Assert.All(first.Tasks, t => Assert.Equal(TaskOutcome.Committed, t.Status));
        Assert.All(second.Tasks, t => Assert.Equal(TaskOutcome.Committed, t.Status));

        using var verifier = OnnxLanguageModel.Load(Path.Combine(models.Root, "verifier"));
        Assert.NotEmpty(verifier.Manifest.EosTokenIds);
        Assert.Equal(verifier.Manifest.EosTokenIds, EvaluationDefaults.ToDecodingOptions(new EvaluationSettings(), verifier).StopTokens);
        Assert.Empty(EvaluationDefaults.ToDecodingOptions(new EvaluationSettings { IgnoreEos = true }, verifier).StopTokens);
    }

    [Fact]
    public async Task EvaluateSuite_LargerThanAChunk_FansOutThroughSubOrchestrations()
    {
        var (host, store) = await StartAsync(concurrency: 8);
        await using var _h = host;
        var tasks = EvaluateSuiteOrchestrator.ChunkSize + 4;
        var (state, outcome) = await RunAsync(host.Client, Request("chunked", tasks, promptsPerTask: 1, maxNewTokens: 6));

        Assert.Equal(tasks, outcome.Tasks.Count);
        Assert.All(outcome.Tasks, t => Assert.Equal(TaskOutcome.Committed, t.Status));
        Assert.Equal(outcome.Tasks.Select(t => t.TaskId).Order(StringComparer.Ordinal), outcome.Tasks.Select(t => t.TaskId));
        var manifest = await store.GetManifestAsync("chunked");
        Assert.Equal(tasks, manifest!.Tasks.Values.Count(t => t.HasCommittedTrace));
    }
}
