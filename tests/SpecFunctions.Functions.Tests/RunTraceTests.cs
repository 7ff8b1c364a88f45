using System.Diagnostics;
using System.Text.Json;
using Azure.Storage.Queues;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry;
using OpenTelemetry.Trace;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;
using SpecFunctions.Functions.Evaluator;
using SpecFunctions.Functions.Hosting;
using SpecFunctions.Functions.Http;
using SpecFunctions.OnnxGraphs;
using SpecFunctions.Orchestration;
using SpecFunctions.Storage.Tests;
using Xunit.Abstractions;

namespace SpecFunctions.Functions.Tests;

/// <summary>
/// One run's telemetry, read from OpenTelemetry's in-memory exporter with the app's trace sources
/// (<see cref="TelemetryRegistration.AddSpecFunctionsSources"/>): the run submitted through <c>POST /api/evaluations</c> on the
/// real in-process Durable engine with the app's registrations, tasks dispatched to real queues on Azurite, the evaluator
/// and completion functions called on each message as their queue triggers would. Every span of the run shares the
/// submission's trace: submit → dispatch → evaluate (model load, evaluation) → completion → fairness.
/// </summary>
public sealed class RunTraceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly AzuriteFixture _azurite = new() { WithQueue = true };
    private readonly TestStore _store = new();
    private readonly string _models = Directory.CreateTempSubdirectory("specfn-trace-models-").FullName;
    private readonly List<Activity> _spans = [];
    private TracerProvider _tracer = null!;
    private DurableTaskTestHost _host = null!;
    private ServiceProvider _evaluator = null!;
    private IConfiguration _configuration = null!;

    public async Task InitializeAsync()
    {
        await _azurite.InitializeAsync();
        TinyTransformerBuilder.WriteModelFolder(Path.Combine(_models, "verifier"), new TinyTransformerConfig { Seed = 1 }, "tiny-verifier");
        TinyTransformerBuilder.WriteModelFolder(Path.Combine(_models, "drafter"), new TinyTransformerConfig { Seed = 1, Layers = 1 }, "tiny-drafter");
        _configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = _azurite.ConnectionString,
            ["Models:Aliases:tiny-verifier"] = Path.Combine(_models, "verifier"),
            ["Models:Aliases:tiny-drafter"] = Path.Combine(_models, "drafter"),
            ["Evaluation:ModelCacheFolder"] = Path.Combine(_models, "cache"),
            ["Evaluation:Dispatch"] = "Queue",
            ["Evaluation:DispatchTimeoutSeconds"] = "120",
            ["Onnx:IntraOpThreads"] = "1",
        }).Build();
        _tracer = Sdk.CreateTracerProviderBuilder().AddSpecFunctionsSources().AddInMemoryExporter(_spans).Build();
        _host = await DurableTaskTestHost.StartAsync(
            registry => registry.AddSpecFunctionsTasks(),
            new DurableTaskTestHostOptions { ConfigureServices = Plane });
        var evaluator = new ServiceCollection();
        Plane(evaluator);
        _evaluator = evaluator.BuildServiceProvider();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _evaluator.DisposeAsync();
        _tracer.Dispose();
        await _azurite.DisposeAsync();
        _store.Dispose();
        Directory.Delete(_models, recursive: true);
    }

    /// <summary>One plane's services, as Program.cs registers them (the store is the test's).</summary>
    private void Plane(IServiceCollection services)
    {
        services.AddSingleton<ITraceStore>(_store.Store);
        services.AddLogging();
        services.AddSingleton(_configuration);
        services.AddSpecFunctionsEvaluationPlanes(_configuration);
    }

    [Fact]
    public async Task OneRun_OneTrace_SubmitDispatchEvaluateCompleteFairness()
    {
        const string runId = "traced-run";
        using var pump = new CancellationTokenSource();
        var triggers = Task.Run(() => QueueTriggersAsync(pump.Token));
        var body = JsonSerializer.Serialize(new
        {
            runId,
            suite = new { name = "tiny", tasks = new[] { new { id = "en", prompts = new[] { "one apple" } }, new { id = "de", prompts = new[] { "ein Apfel" } } } },
            verifier = "tiny-verifier",
            drafter = "tiny-drafter",
            settings = new { gamma = 3, maxNewTokens = 8 },
        });

        var parser = new EvaluationRequestParser(new EvaluationLimits(), name => name is "tiny-verifier" or "tiny-drafter", () => "unused");
        var submitted = await new EvaluationsApi(parser, _store.Store, TimeProvider.System, NullLogger<EvaluationsApi>.Instance)
            .SubmitEvaluation(TestHttp.Json("POST", "/api/evaluations", body), _host.Client, CancellationToken.None);
        Assert.Equal(202, (await submitted.ExecuteAsync(TestHttp.Request("POST", "/api/evaluations"))).Status);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var state = await _host.Client.WaitForInstanceCompletionAsync(runId, getInputsAndOutputs: true, timeout.Token);
        await pump.CancelAsync();
        await triggers;
        _tracer.ForceFlush();

        Assert.Equal(OrchestrationRuntimeStatus.Completed, state.RuntimeStatus);
        Assert.All(state.ReadOutputAs<EvaluationOutcome>()!.Tasks, t => Assert.Equal(TaskOutcome.Committed, t.Status));
        List<Activity> spans;
        lock (_spans)
        {
            spans = [.. _spans];
        }

        var submit = Assert.Single(spans, s => s.DisplayName == "SubmitEvaluation" && (string?)s.GetTagItem("specfn.run_id") == runId);
        var trace = spans.Where(s => s.TraceId == submit.TraceId).ToList();
        foreach (var span in trace.OrderBy(s => s.StartTimeUtc))
        {
            output.WriteLine($"{span.StartTimeUtc:HH:mm:ss.fff} {span.Source.Name,-22} {span.Kind,-8} {span.DisplayName}");
        }

        // One trace from the submission to the fairness computation, across the queue hops both ways.
        Assert.Null(submit.Parent);
        Assert.Equal(2, trace.Count(s => s.DisplayName == "DispatchTask"));
        Assert.Equal(2, trace.Count(s => s.DisplayName == "EvaluateQueuedTask" && s.Kind == ActivityKind.Consumer));
        Assert.Equal(2, trace.Count(s => s.DisplayName == "EvaluateTask"));
        Assert.Equal(2, trace.Count(s => s.DisplayName == "CompleteQueuedTask"));
        Assert.Single(trace, s => s.DisplayName == "ComputeFairness");
        Assert.Contains(trace, s => s.Source.Name == "Microsoft.DurableTask" && s.DisplayName.Contains("EvaluateSuite", StringComparison.Ordinal));

        // The evaluation hangs under the queue message it came from, which hangs under the dispatch that sent it.
        var byId = trace.ToDictionary(s => s.SpanId);
        foreach (var evaluate in trace.Where(s => s.DisplayName == "EvaluateTask"))
        {
            var queued = byId[evaluate.ParentSpanId];
            Assert.Equal("EvaluateQueuedTask", queued.DisplayName);
            Assert.Equal("DispatchTask", byId[queued.ParentSpanId].DisplayName);
            Assert.Equal(queued.GetTagItem("specfn.task_id"), evaluate.GetTagItem("specfn.task_id"));
        }

        // Model calls: the evaluator loads the pair once, inside its first evaluation.
        Assert.Equal(2, trace.Count(s => s.DisplayName == "LoadModel" && byId.TryGetValue(s.ParentSpanId, out var parent) && parent.DisplayName == "EvaluateTask"));

        var fairness = trace.Single(s => s.DisplayName == "ComputeFairness");
        Assert.True(fairness.StartTimeUtc >= trace.Where(s => s.DisplayName == "CompleteQueuedTask").Max(s => s.StartTimeUtc));
    }

    /// <summary>The two queue triggers of the app, driven by polling Azurite: evaluator plane and completion function.</summary>
    private async Task QueueTriggersAsync(CancellationToken stop)
    {
        var evaluations = StorageQueues.Client(_configuration, TaskQueues.Evaluations);
        var completions = StorageQueues.Client(_configuration, TaskQueues.Completions);
        await evaluations.CreateIfNotExistsAsync(cancellationToken: CancellationToken.None);
        await completions.CreateIfNotExistsAsync(cancellationToken: CancellationToken.None);
        var evaluator = ActivatorUtilities.CreateInstance<EvaluatorFunctions>(_evaluator);
        var completion = new CompletionFunctions(NullLogger<CompletionFunctions>.Instance);
        while (!stop.IsCancellationRequested)
        {
            var busy = await DrainAsync(evaluations, m => evaluator.RunAsync(m, new TestFunctionContext(new Dictionary<string, object?>()), CancellationToken.None));
            busy |= await DrainAsync(completions, m => completion.RunAsync(m, _host.Client, CancellationToken.None));
            if (!busy)
            {
                await Task.Delay(100, CancellationToken.None);
            }
        }
    }

    private static async Task<bool> DrainAsync(QueueClient queue, Func<Azure.Storage.Queues.Models.QueueMessage, Task> trigger)
    {
        var messages = (await queue.ReceiveMessagesAsync(maxMessages: 1, visibilityTimeout: TimeSpan.FromMinutes(1))).Value;
        foreach (var message in messages)
        {
            await trigger(message);
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
        }

        return messages.Length > 0;
    }
}
