using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;

namespace SpecFunctions.Orchestration.Tests;

/// <summary>A trace that vanishes from a real local store after its task reported committed.</summary>
public sealed class LostTraceTests(TinyModelsFixture models) : IClassFixture<TinyModelsFixture>, IDisposable
{
    private readonly string _storeFolder = Directory.CreateTempSubdirectory("specfn-lost-").FullName;

    public void Dispose() => Directory.Delete(_storeFolder, recursive: true);

    [Fact]
    public async Task EvaluateSuite_TraceDeletedAfterCommit_TaskFailedAndNamedInReport_UOverTheRest()
    {
        var store = new TraceStore(new LocalFolderObjectStore(_storeFolder));
        var observer = new DeleteTraceOnCommit(_storeFolder, "t01");
        await using var host = await DurableTaskTestHost.StartAsync(
            registry => registry.AddSpecFunctionsTasks(),
            new DurableTaskTestHostOptions
            {
                ConfigureServices = services =>
                {
                    services.AddSingleton<ITraceStore>(store);
                    services.AddSingleton(models.Catalog);
                    services.AddSingleton(new OnnxModelOptions { IntraOpThreads = 1 });
                    services.AddSingleton<IEvaluationObserver>(observer);
                    services.AddSpecFunctionsEvaluation(o => o.MaxConcurrentEvaluations = 1);
                },
            });
        var request = new EvaluationRequest
        {
            RunId = "lost",
            Suite = new SuiteDefinition
            {
                Name = "tiny",
                Tasks = [.. Enumerable.Range(0, 3).Select(i => new SuiteTask { Id = $"t{i:00}", Prompts = [$"prompt {i}: the quick brown fox"] })],
            },
            Verifier = "tiny-verifier",
            Drafter = "tiny-drafter",
            Settings = new EvaluationSettings { Gamma = 3, MaxNewTokens = 16, Temperature = 0 },
        };

        await host.Client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, request, new Microsoft.DurableTask.StartOrchestrationOptions("lost"));
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var state = await host.Client.WaitForInstanceCompletionAsync("lost", getInputsAndOutputs: true, cts.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, state.RuntimeStatus);
        var outcome = state.ReadOutputAs<EvaluationOutcome>()!;

        Assert.True(observer.Deleted, "the observer did not see t01 committed");
        Assert.False(outcome.Cancelled);
        var lost = Assert.Single(outcome.Tasks, t => t.Status == TaskOutcome.Failed);
        Assert.Equal("t01", lost.TaskId);
        Assert.Contains("missing", lost.Error);
        Assert.Equal(1, outcome.FailedTasks);
        Assert.True(outcome.Fairness.LostTasks.ContainsKey("t01"));

        var report = await ReportPublisher.ReadAsync(store, "lost");
        Assert.Equal(["t00", "t02"], report!.Tasks.Select(t => t.TaskId));
        var incomplete = Assert.Single(report.IncompleteTasks);
        Assert.Equal(("t01", TaskState.Failed), (incomplete.TaskId, incomplete.Status));
        var d = report.Tasks.Select(t => t.CrossEntropy).ToList();
        Assert.Equal(d.Average(x => (x - d.Average()) * (x - d.Average())), report.Suite.Fairness.Unfairness, 12);

        // Recorded in the manifest: the task no longer claims a trace, so a re-run evaluates it again.
        var entry = (await store.GetManifestAsync("lost"))!.Tasks["t01"];
        Assert.Equal(TaskState.Failed, entry.Status);
        Assert.False(entry.HasCommittedTrace);
    }

    /// <summary>Deletes a task's committed trace file as soon as the task reports it committed.</summary>
    private sealed class DeleteTraceOnCommit(string storeFolder, string taskId) : IEvaluationObserver
    {
        public bool Deleted { get; private set; }

        public void TaskStarted(string runId, string taskId, int prompts)
        {
        }

        public void PromptCompleted(string runId, string taskId, int completed, int total)
        {
        }

        public void TaskCompleted(string runId, TaskSummary summary)
        {
            if (summary.TaskId == taskId && summary.Status == TaskOutcome.Committed)
            {
                File.Delete(Path.Combine(storeFolder, TraceStoreLayout.Trace(runId, taskId)));
                Deleted = true;
            }
        }
    }
}
