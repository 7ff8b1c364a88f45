using System.Collections.Concurrent;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;

namespace SpecFunctions.Orchestration.Tests;

/// <summary>
/// Queue dispatch (<see cref="EvaluationOptions.Dispatch"/> = Queue) on the real Durable engine: the "queue" is a
/// dispatcher that hands each message to a separate evaluator (its own services, the same store) which raises the
/// completion event as the Functions app's completion function does; messages can be lost or answered twice.
/// </summary>
public sealed class QueueDispatchTests(TinyModelsFixture models) : IClassFixture<TinyModelsFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    private static EvaluationRequest Request(string runId, int tasks) => new()
    {
        RunId = runId,
        Suite = new SuiteDefinition
        {
            Name = "tiny",
            Tasks = [.. Enumerable.Range(0, tasks).Select(i => new SuiteTask { Id = $"t{i:00}", Prompts = [$"prompt {i}: the quick brown fox"] })],
        },
        Verifier = "tiny-verifier",
        Drafter = "tiny-drafter",
        Settings = new EvaluationSettings { Gamma = 3, MaxNewTokens = 16, Temperature = 0 },
    };

    private async Task<(DurableTaskTestHost Host, ITraceStore Store)> StartAsync(FakeQueue queue, double timeoutSeconds, int maxDispatches = 3)
    {
        var store = new TraceStore(new LocalFolderObjectStore(Directory.CreateTempSubdirectory("specfn-store-").FullName));
        queue.Evaluator = Evaluator(store);
        var host = await DurableTaskTestHost.StartAsync(
            registry => registry.AddSpecFunctionsTasks(),
            new DurableTaskTestHostOptions
            {
                ConfigureServices = services =>
                {
                    services.AddSingleton<ITraceStore>(store);
                    services.AddSingleton(models.Catalog);
                    services.AddSingleton(new OnnxModelOptions { IntraOpThreads = 1 });
                    services.AddSingleton<ITaskDispatcher>(queue);
                    services.AddSpecFunctionsEvaluation(o =>
                    {
                        o.Dispatch = TaskDispatchMode.Queue;
                        o.DispatchTimeoutSeconds = timeoutSeconds;
                        o.MaxDispatches = maxDispatches;
                        o.CancellationPollSeconds = 0.05;
                    });
                },
            });
        queue.Client = host.Client;
        return (host, store);
    }

    /// <summary>The evaluator plane's services: the same activity class, its own model cache, the shared store.</summary>
    private ServiceProvider Evaluator(ITraceStore store)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(store);
        services.AddSingleton(models.Catalog);
        services.AddSingleton(new OnnxModelOptions { IntraOpThreads = 1 });
        services.AddSpecFunctionsEvaluation(o => o.CancellationPollSeconds = 0.05);
        return services.BuildServiceProvider();
    }

    private static async Task<EvaluationOutcome> RunAsync(DurableTaskClient client, EvaluationRequest request)
    {
        await client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, request, new StartOrchestrationOptions(request.RunId));
        using var cts = new CancellationTokenSource(Timeout);
        var state = await client.WaitForInstanceCompletionAsync(request.RunId, getInputsAndOutputs: true, cts.Token);
        Assert.True(state.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{state.RuntimeStatus}: {state.FailureDetails?.ErrorMessage}");
        return state.ReadOutputAs<EvaluationOutcome>()!;
    }

    [Fact]
    public async Task QueueDispatch_LostMessageRedispatchedOnTimeout_DuplicateCompletionsHarmless_OneTracePerTask()
    {
        // t01's first message is lost; every completion of t00 is delivered twice.
        var queue = new FakeQueue { Lose = m => m.Task.TaskId == "t01" && m.Dispatch == 1, Duplicate = m => m.Task.TaskId == "t00" };
        var (host, store) = await StartAsync(queue, timeoutSeconds: 3);
        await using var _ = host;

        var outcome = await RunAsync(host.Client, Request("queued", tasks: 3));

        Assert.Equal(["t00", "t01", "t02"], outcome.Tasks.Select(t => t.TaskId));
        Assert.All(outcome.Tasks, t => Assert.Equal(TaskOutcome.Committed, t.Status));
        Assert.Equal([1, 2], queue.Sent.Where(m => m.Task.TaskId == "t01").Select(m => m.Dispatch).Order());
        Assert.Single(queue.Sent, m => m.Task.TaskId == "t00");
        Assert.Single(queue.Sent, m => m.Task.TaskId == "t02");
        Assert.All(queue.Sent, m => Assert.Equal("queued", m.InstanceId));
        var report = await ReportPublisher.ReadAsync(store, "queued");
        Assert.Equal(["t00", "t01", "t02"], report!.Tasks.Select(t => t.TaskId));
        var manifest = (await store.GetManifestAsync("queued"))!;
        Assert.All(manifest.Tasks.Values, t => Assert.Equal(TaskState.Committed, t.Status));

        // The same evaluation in process gives the same α per task: the plane changes where, not what.
        var inProcess = await InProcessAlphasAsync();
        Assert.Equal(inProcess, outcome.Tasks.Select(t => t.Alpha!.Value).ToList());
    }

    [Fact]
    public async Task QueueDispatch_NoEvaluatorAnswers_TaskFailedAfterMaxDispatches_OthersReported()
    {
        var queue = new FakeQueue { Lose = m => m.Task.TaskId == "t01" };
        var (host, store) = await StartAsync(queue, timeoutSeconds: 1, maxDispatches: 2);
        await using var _ = host;

        var outcome = await RunAsync(host.Client, Request("unanswered", tasks: 2));

        var failed = Assert.Single(outcome.Tasks, t => t.Status == TaskOutcome.Failed);
        Assert.Equal("t01", failed.TaskId);
        Assert.Equal("no evaluator answered 2 dispatch(es) of 1 s each", failed.Error);
        Assert.Equal(2, queue.Sent.Count(m => m.Task.TaskId == "t01"));
        Assert.Equal(TaskState.Failed, (await store.GetManifestAsync("unanswered"))!.Tasks["t01"].Status);
    }

    [Fact]
    public async Task QueueDispatch_CancelledRun_QueuedTasksReportCancelled_RedispatchSeesTheCancellation()
    {
        // Nothing answers; the run is cancelled; the re-dispatch after the timeout finds the request and stops there.
        var queue = new FakeQueue { Lose = _ => true };
        var (host, store) = await StartAsync(queue, timeoutSeconds: 2);
        await using var _ = host;
        await host.Client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, Request("cancel-queued", tasks: 2), new StartOrchestrationOptions("cancel-queued"));
        await queue.WaitForSentAsync(2, Timeout);
        await store.RequestAsync("cancel-queued", "cancelled by request", DateTimeOffset.UtcNow);
        await host.Client.RaiseEventAsync("cancel-queued", DurableNames.CancelEvent, "cancelled by request");

        using var cts = new CancellationTokenSource(Timeout);
        var state = await host.Client.WaitForInstanceCompletionAsync("cancel-queued", getInputsAndOutputs: true, cts.Token);
        var outcome = state.ReadOutputAs<EvaluationOutcome>()!;

        Assert.True(outcome.Cancelled);
        Assert.All(outcome.Tasks, t => Assert.Equal(TaskOutcome.Cancelled, t.Status));
        Assert.Equal(2, queue.Sent.Count);
        Assert.All((await store.GetManifestAsync("cancel-queued"))!.Tasks.Values, t => Assert.Equal(TaskState.Cancelled, t.Status));
    }

    [Fact]
    public async Task QueueDispatch_EvaluatorAskedForGpuRanOnCpu_OutcomeAndReportCarryTheWarning()
    {
        var cpu = new DeviceReport { Requested = "cuda", ExecutionProvider = "CPUExecutionProvider", Note = "no NVIDIA driver visible to this process" };
        var gpu = new DeviceReport { Requested = "cuda", ExecutionProvider = "CUDAExecutionProvider", GpuName = "NVIDIA T4", DriverVersion = "580.65" };
        var queue = new FakeQueue { Device = m => m.Task.TaskId == "t01" ? cpu : gpu };
        var (host, store) = await StartAsync(queue, timeoutSeconds: 30);
        await using var _ = host;

        var outcome = await RunAsync(host.Client, Request("fell-back", tasks: 2));

        const string expected = "GPU requested but the CPU ran 1 task(s) (t01); their speed-ups are CPU speed-ups: no NVIDIA driver visible to this process";
        Assert.Equal(expected, outcome.DeviceWarning);
        Assert.Equal("NVIDIA T4", outcome.Tasks.Single(t => t.TaskId == "t00").Device!.GpuName);
        Assert.True(outcome.Tasks.Single(t => t.TaskId == "t01").Device!.FellBackToCpu);
        var report = await ReportPublisher.ReadAsync(store, "fell-back");
        Assert.Equal([expected], report!.Warnings);
        await using var html = (await store.OpenArtifactAsync("fell-back", RunArtifact.ReportHtml))!;
        Assert.Contains("GPU requested but the CPU ran 1 task(s) (t01)", await new StreamReader(html).ReadToEndAsync(), StringComparison.Ordinal);
    }

    private async Task<List<double>> InProcessAlphasAsync()
    {
        await using var host = await DurableTaskTestHost.StartAsync(
            registry => registry.AddSpecFunctionsTasks(),
            new DurableTaskTestHostOptions
            {
                ConfigureServices = services =>
                {
                    services.AddSingleton<ITraceStore>(new TraceStore(new LocalFolderObjectStore(Directory.CreateTempSubdirectory("specfn-store-").FullName)));
                    services.AddSingleton(models.Catalog);
                    services.AddSingleton(new OnnxModelOptions { IntraOpThreads = 1 });
                    services.AddSpecFunctionsEvaluation();
                },
            });
        var outcome = await RunAsync(host.Client, Request("in-process", tasks: 3));
        return outcome.Tasks.Select(t => t.Alpha!.Value).ToList();
    }

    /// <summary>The evaluation queue and the evaluator behind it, in one object.</summary>
    private sealed class FakeQueue : ITaskDispatcher
    {
        private readonly ConcurrentQueue<QueuedTask> _sent = new();

        public Func<QueuedTask, bool> Lose { get; init; } = _ => false;

        public Func<QueuedTask, bool> Duplicate { get; init; } = _ => false;

        /// <summary>What the evaluator reports as its device (the Functions app stamps it from NVML and ONNX Runtime).</summary>
        public Func<QueuedTask, DeviceReport?> Device { get; init; } = _ => null;

        public ServiceProvider Evaluator { get; set; } = null!;

        public DurableTaskClient Client { get; set; } = null!;

        public IReadOnlyList<QueuedTask> Sent => [.. _sent];

        public Task SendAsync(QueuedTask message, CancellationToken cancellationToken = default)
        {
            _sent.Enqueue(message);
            if (!Lose(message))
            {
                // The evaluator picks the message up later, on its own: the dispatching activity only enqueues.
                _ = Task.Run(() => EvaluateAsync(message), CancellationToken.None);
            }

            return Task.CompletedTask;
        }

        public async Task WaitForSentAsync(int count, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (_sent.Count < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{_sent.Count} of {count} messages sent");
                await Task.Delay(50);
            }
        }

        private async Task EvaluateAsync(QueuedTask message)
        {
            var activity = Evaluator.GetRequiredService<EvaluateTaskActivity>();
            var summary = await activity.RunAsync(new QueueActivityContext(), message.Task) with { Device = Device(message) };
            var name = QueueDispatch.CompletionEvent(message.Task.TaskId);
            await Client.RaiseEventAsync(message.InstanceId, name, summary);
            if (Duplicate(message))
            {
                await Client.RaiseEventAsync(message.InstanceId, name, summary);
            }
        }
    }

    private sealed class QueueActivityContext : TaskActivityContext
    {
        public override TaskName Name { get; } = new("EvaluateQueuedTask");

        public override string InstanceId => "";
    }
}
