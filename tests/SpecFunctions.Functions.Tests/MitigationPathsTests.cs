using System.Text.Json;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Functions.Audit;
using SpecFunctions.Functions.Http;
using SpecFunctions.Functions.Hosting;
using SpecFunctions.OnnxGraphs;
using SpecFunctions.Orchestration;
using SpecFunctions.Core.Mitigation;

namespace SpecFunctions.Functions.Tests;

/// <summary>
/// The mitigation as the Functions app runs it: the app's own registrations (<see cref="EvaluationRegistration.AddSpecFunctionsEvaluationPlanes"/>)
/// on the real in-process Durable engine, started through the HTTP API (<c>POST /api/evaluations</c>) or the nightly
/// audit, two tiny ONNX models whose family has no in-process trainer, so the plan goes to an external trainer (a
/// capturing sender) and the new drafter comes back through <c>drafter-ready</c>. Checks what data the mitigation used.
/// </summary>
public sealed class MitigationPathsTests : IAsyncLifetime
{
    private static readonly string[][] Prompts = [["one apple and two pears"], ["ein Apfel und zwei Birnen"], ["un pomme et deux poires"]];
    private static readonly string[][] Training = [["three plums", "four figs"], ["drei Pflaumen", "vier Feigen"], ["trois prunes", "quatre figues"]];

    private readonly TestStore _store = new();
    private readonly CapturingSender _sender = new();
    private readonly string _models = Directory.CreateTempSubdirectory("specfn-functions-models-").FullName;
    private DurableTaskTestHost _host = null!;

    public async Task InitializeAsync()
    {
        TinyTransformerBuilder.WriteModelFolder(Path.Combine(_models, "verifier"), new TinyTransformerConfig { Seed = 1 }, "tiny-verifier");
        TinyTransformerBuilder.WriteModelFolder(Path.Combine(_models, "drafter"), new TinyTransformerConfig { Seed = 1, Layers = 1 }, "tiny-drafter");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Models:Aliases:tiny-verifier"] = Path.Combine(_models, "verifier"),
            ["Models:Aliases:tiny-drafter"] = Path.Combine(_models, "drafter"),
            ["Evaluation:ModelCacheFolder"] = Path.Combine(_models, "cache"),
            ["Onnx:IntraOpThreads"] = "1",
        }).Build();
        _host = await DurableTaskTestHost.StartAsync(
            registry => registry.AddSpecFunctionsTasks(),
            new DurableTaskTestHostOptions
            {
                ConfigureServices = services =>
                {
                    services.AddSingleton<ITraceStore>(_store.Store);
                    services.AddLogging();
                    services.AddSingleton<IConfiguration>(configuration);
                    services.AddSpecFunctionsEvaluationPlanes(configuration);
                    services.Replace(ServiceDescriptor.Singleton<IMitigationPlanSender>(_sender));
                },
            });
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _store.Dispose();
        Directory.Delete(_models, recursive: true);
    }

    private static EvaluationRequestParser Parser() => new(new EvaluationLimits(), name => name is "tiny-verifier" or "tiny-drafter", () => "run-generated");

    private static string Body(string runId, bool withTraining) => JsonSerializer.Serialize(new
    {
        runId,
        suite = new
        {
            name = "tiny",
            tasks = Prompts.Select((p, i) => withTraining
                ? (object)new { id = $"t{i}", prompts = p, trainingPrompts = Training[i] }
                : new { id = $"t{i}", prompts = p }),
        },
        verifier = "tiny-verifier",
        drafter = "tiny-drafter",
        settings = new { gamma = 3, maxNewTokens = 12 },

        // Threshold 0: any U > 0 asks for a mitigation.
        mitigation = new { autoMitigate = true, unfairnessThreshold = 0 },
    });

    [Fact]
    public async Task SubmitEvaluation_WithTrainingPrompts_PlanTrainsOnThemOnlyAndReportShowsOverlapZero()
    {
        var submitted = await new EvaluationsApi(Parser(), _store.Store, TimeProvider.System, NullLogger<EvaluationsApi>.Instance)
            .SubmitEvaluation(TestHttp.Json("POST", "/api/evaluations", Body("http-run", withTraining: true)), _host.Client, CancellationToken.None);
        Assert.Equal(202, (await submitted.ExecuteAsync(TestHttp.Request("POST", "/api/evaluations"))).Status);

        var outcome = await CompleteExternalMitigationAsync("http-run");

        await AssertDisjointPlanAndReportAsync("http-run", outcome);
    }

    [Fact]
    public async Task SubmitEvaluation_NoTrainingPrompts_MitigationRefusedNothingTrainedOrReEvaluated()
    {
        var submitted = await new EvaluationsApi(Parser(), _store.Store, TimeProvider.System, NullLogger<EvaluationsApi>.Instance)
            .SubmitEvaluation(TestHttp.Json("POST", "/api/evaluations", Body("bare-run", withTraining: false)), _host.Client, CancellationToken.None);
        Assert.Equal(202, (await submitted.ExecuteAsync(TestHttp.Request("POST", "/api/evaluations"))).Status);

        var outcome = (await WaitAsync("bare-run")).ReadOutputAs<EvaluationOutcome>()!;

        Assert.Equal(MitigationDecision.Mitigate, outcome.Fairness.Decision);
        var mitigation = outcome.Mitigation!;
        Assert.Equal(MitigationStatus.Refused, mitigation.Status);
        Assert.Equal(
            "mitigation refused: tasks 't0', 't1', 't2' have no training prompts, and corrective data never comes from evaluation prompts; "
            + "give every task \"trainingPrompts\" disjoint from its \"prompts\" (for MGSM: specfn suite import-mgsm --training-per-language N)",
            mitigation.Reason);
        Assert.Null(mitigation.Report);
        Assert.Empty(_sender.Plans);
        Assert.Null(await _store.Store.GetManifestAsync("bare-run-after-s-cdf"));
        Assert.Null((await ReportPublisher.ReadAsync(_store.Store, "bare-run"))!.Mitigation);
    }

    [Fact]
    public async Task NightlyAudit_RegisteredSuiteWithTrainingPrompts_MitigationOfItsRunShowsOverlapZero()
    {
        var registry = new SuiteRegistry(_store.Objects);
        var registered = await new AuditSuitesApi(Parser(), registry, NullLogger<AuditSuitesApi>.Instance)
            .RegisterAuditSuite(TestHttp.Json("PUT", "/api/audit/suites/tiny", Body("ignored", withTraining: true)), "tiny", CancellationToken.None);
        Assert.Equal(200, (await registered.ExecuteAsync(TestHttp.Request("PUT", "/api/audit/suites/tiny"))).Status);
        var audit = new NightlyAudit(registry, _store.Store, Options.Create(new RegressionThresholds()), TimeProvider.System, NullLogger<NightlyAudit>.Instance);

        var runId = Assert.Single(await audit.AuditAsync(_host.Client, CancellationToken.None)).ScheduledRunId!;
        var outcome = await CompleteExternalMitigationAsync(runId);

        await AssertDisjointPlanAndReportAsync(runId, outcome);
    }

    /// <summary>Waits for the plan, answers as an external trainer would (with the same drafter), returns the run's outcome.</summary>
    private async Task<EvaluationOutcome> CompleteExternalMitigationAsync(string runId)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (_sender.Plans.IsEmpty && DateTime.UtcNow < deadline)
        {
            if (await _host.Client.GetInstanceAsync(runId) is { RuntimeStatus: OrchestrationRuntimeStatus.Failed } failed)
            {
                Assert.Fail($"{runId} failed: {failed.FailureDetails?.ErrorMessage}");
            }

            await Task.Delay(100);
        }

        var plan = Assert.Single(_sender.Plans);
        var before = (await ReportPublisher.ReadAsync(_store.Store, runId))!;
        var ready = await new MitigationApi(Parser(), NullLogger<MitigationApi>.Instance).DrafterReady(
            TestHttp.Json("POST", $"/api/evaluations/{runId}/mitigation/drafter-ready", JsonSerializer.Serialize(new NewDrafter { Reference = "tiny-drafter", Identity = before.Drafter! }, JsonSerializerOptions.Web)),
            _host.Client, runId, CancellationToken.None);
        Assert.Equal(202, (await ready.ExecuteAsync(TestHttp.Request("POST", "/x"))).Status);
        Assert.Equal(MitigationRequests.InstanceId(runId), plan.InstanceId);
        return (await WaitAsync(runId)).ReadOutputAs<EvaluationOutcome>()!;
    }

    private async Task AssertDisjointPlanAndReportAsync(string runId, EvaluationOutcome outcome)
    {
        // The external trainer was handed exactly each task's training prompts — the training part and the dev split
        // (the last one of two) — none of them an evaluation prompt.
        var plan = Assert.Single(_sender.Plans);
        for (var i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(Training[i][..1], plan.TrainingPrompts[$"t{i}"]);
            Assert.Equal(Training[i][1..], plan.DevPrompts[$"t{i}"]);
            Assert.Empty(plan.TrainingPrompts[$"t{i}"].Concat(plan.DevPrompts[$"t{i}"]).Intersect(Prompts[i]));
        }

        // The same drafter came back: U cannot fall, so it is kept; the report states the data per task.
        Assert.Equal(MitigationStatus.Kept, outcome.Mitigation!.Status);
        var stored = (await ReportPublisher.ReadAsync(_store.Store, runId))!.Mitigation!;
        foreach (var report in new[] { outcome.Mitigation.Report!, stored })
        {
            Assert.Equal(["t0", "t1", "t2"], report.Tasks.Select(t => t.TaskId));
            Assert.All(report.Tasks, t => Assert.Equal((2, 1, 0), (t.TrainingPrompts, t.EvaluationPrompts, t.PromptOverlap)));
        }
    }

    private async Task<OrchestrationMetadata> WaitAsync(string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var state = await _host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        Assert.True(state.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{state.RuntimeStatus}: {state.FailureDetails?.ErrorMessage}");
        return state;
    }

    private sealed class CapturingSender : IMitigationPlanSender
    {
        public System.Collections.Concurrent.ConcurrentQueue<MitigationPlan> Plans { get; } = new();

        public Task SendAsync(MitigationPlan plan, CancellationToken cancellationToken)
        {
            Plans.Enqueue(plan);
            return Task.CompletedTask;
        }
    }
}
