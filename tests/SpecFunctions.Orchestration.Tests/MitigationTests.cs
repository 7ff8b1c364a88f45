using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using Moq;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;

namespace SpecFunctions.Orchestration.Tests;

public sealed class MitigationTests(TinyModelsFixture models) : IClassFixture<TinyModelsFixture>
{
    private static EvaluationRequest Request(string runId) => new()
    {
        RunId = runId,
        Suite = new SuiteDefinition
        {
            Name = "tiny",
            Tasks = [.. Enumerable.Range(0, 3).Select(i => new SuiteTask
            {
                Id = $"t{i}",
                Prompts = [$"task {i} says {new string((char)('a' + i), i + 1)}"],
                TrainingPrompts = [$"task {i} trains on {i}", $"task {i} trains more"],
            })],
        },
        Verifier = "tiny-verifier",
        Drafter = "tiny-drafter",
        Settings = new EvaluationSettings { Gamma = 3, MaxNewTokens = 12 },
    };

    private async Task<(DurableTaskTestHost Host, ITraceStore Store)> StartAsync(IMitigationPlanSender sender, IDrafterTrainer? trainer = null)
    {
        var store = new TraceStore(new LocalFolderObjectStore(Directory.CreateTempSubdirectory("specfn-mit-").FullName));
        var host = await DurableTaskTestHost.StartAsync(
            registry => registry.AddSpecFunctionsTasks(),
            new DurableTaskTestHostOptions
            {
                ConfigureServices = services =>
                {
                    services.AddSingleton<ITraceStore>(store);
                    services.AddSingleton(models.Catalog);
                    services.AddSingleton(new OnnxModelOptions { IntraOpThreads = 1 });
                    services.AddSingleton(sender);
                    if (trainer is not null)
                    {
                        services.AddSingleton(trainer);
                    }
                    services.AddSpecFunctionsEvaluation(o =>
                    {
                        o.MaxConcurrentEvaluations = 3;
                        o.ModelCacheFolder = Path.Combine(store.Location, "..", "model-cache");
                    });
                },
            });
        return (host, store);
    }

    private static async Task<OrchestrationMetadata> WaitAsync(DurableTaskClient client, string id)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var state = await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, cts.Token);
        Assert.True(state.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{state.RuntimeStatus}: {state.FailureDetails?.ErrorMessage}");
        return state;
    }

    /// <summary>A trainer for every family that records its job and returns the base drafter unchanged.</summary>
    private sealed class RecordingTrainer : IDrafterTrainer
    {
        public List<DrafterTrainingJob> Jobs { get; } = [];

        public bool Supports(string family) => true;

        public Task<string> TrainAsync(DrafterTrainingJob job, string outputFolder, IProgress<string>? progress, CancellationToken cancellationToken)
        {
            Jobs.Add(job);
            var folder = Directory.CreateDirectory(Path.Combine(outputFolder, "drafter")).FullName;
            foreach (var file in Directory.EnumerateFiles(job.DrafterFolder))
            {
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            }

            return Task.FromResult(folder);
        }
    }

    [Fact]
    public async Task MitigateDrafter_InProcess_TrainerChoosesOnTheDevSplit_NeverOnEvaluationPrompts()
    {
        var trainer = new RecordingTrainer();
        var (host, _) = await StartAsync(new Mock<IMitigationPlanSender>().Object, trainer);
        await using var _ = host;
        var evaluation = Request("devsplit") with
        {
            Suite = Request("devsplit").Suite with
            {
                Tasks = [.. Request("devsplit").Suite.Tasks.Select((t, i) => t with { TrainingPrompts = [.. Enumerable.Range(0, 10).Select(k => $"task {i} trains on {k}")] })],
            },
            Mitigation = new MitigationPolicy { AutoMitigate = false },
        };
        await host.Client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, evaluation, new StartOrchestrationOptions("devsplit"));
        await WaitAsync(host.Client, "devsplit");

        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(DurableNames.MitigateDrafter, MitigationRequests.From(evaluation));
        var outcome = (await WaitAsync(host.Client, id)).ReadOutputAs<MitigationOutcome>()!;

        var job = Assert.Single(trainer.Jobs);
        foreach (var task in job.Tasks)
        {
            var suiteTask = evaluation.Suite.Tasks.Single(t => t.Id == task.Id);
            Assert.Equal(suiteTask.TrainingPrompts!.Take(8), task.TrainingPrompts);   // the training part
            Assert.Equal(suiteTask.TrainingPrompts!.Skip(8), task.HeldOutPrompts);    // the dev split: the last 20 %
            Assert.Empty(task.HeldOutPrompts.Intersect(suiteTask.Prompts));
        }

        // The same drafter came back, so it is kept; the report states the split per task.
        Assert.Equal(MitigationStatus.Kept, outcome.Status);
        Assert.All(outcome.Report!.Tasks, t => Assert.Equal((10, 2, 0), (t.TrainingPrompts, t.DevPrompts, t.PromptOverlap)));
    }

    [Fact]
    public async Task MitigateDrafter_UnsupportedFamily_SendsPlanAndResumesOnDrafterReady()
    {
        var sent = new List<MitigationPlan>();
        var sender = new Mock<IMitigationPlanSender>();
        sender.Setup(s => s.SendAsync(It.IsAny<MitigationPlan>(), It.IsAny<CancellationToken>()))
            .Callback<MitigationPlan, CancellationToken>((plan, _) => { lock (sent) { sent.Add(plan); } })
            .Returns(Task.CompletedTask);
        var (host, store) = await StartAsync(sender.Object);
        await using var _ = host;

        var request = Request("ext");
        await host.Client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, request, new StartOrchestrationOptions("ext"));
        await WaitAsync(host.Client, "ext");
        var before = (await ReportPublisher.ReadAsync(store, "ext"))!;

        var mitigation = MitigationRequests.From(request) with { ExternalTimeoutSeconds = 120 };
        await host.Client.ScheduleNewOrchestrationInstanceAsync(DurableNames.MitigateDrafter, mitigation, new StartOrchestrationOptions("ext-mitigation"));

        // The orchestration sends the plan, then waits for the external trainer.
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (sent.Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        var plan = Assert.Single(sent);
        Assert.Equal("ext-mitigation", plan.InstanceId);
        Assert.Equal("tiny-drafter", plan.BaseDrafter.Name);
        var expected = TaskWeights.Compute([.. before.Tasks.Select(t => t.CrossEntropy)], WeightRule.ShiftByMinimum);
        Assert.Equal(expected, before.Tasks.Select(t => plan.Tasks[t.TaskId].Weight));
        // The split travels with the plan: train on the first prompt, choose on the dev one (the last 20 %, at least one),
        // under the run's sampling settings.
        Assert.All(request.Suite.Tasks, t => Assert.Equal(t.TrainingPrompts!.Take(1), plan.TrainingPrompts[t.Id]));
        Assert.All(request.Suite.Tasks, t => Assert.Equal(t.TrainingPrompts!.Skip(1), plan.DevPrompts[t.Id]));
        Assert.Equal(request.Settings, plan.Settings);
        Assert.NotNull(await store.OpenArtifactAsync("ext", RunArtifact.MitigationPlan));

        // The "external trainer" answers with the same drafter: U cannot fall, so nothing is promoted.
        var drafterId = before.Drafter!;
        await host.Client.RaiseEventAsync("ext-mitigation", MitigateDrafterOrchestrator.DrafterReadyEvent, new NewDrafter { Reference = "tiny-drafter", Identity = drafterId });
        var state = await WaitAsync(host.Client, "ext-mitigation");
        var outcome = state.ReadOutputAs<MitigationOutcome>()!;
        Assert.Equal(MitigationStatus.Kept, outcome.Status);
        Assert.Equal("ext-after-s-cdf", outcome.AfterRunId);
        Assert.Equal(outcome.Report!.UnfairnessBefore, outcome.Report.UnfairnessAfter, 9);
        Assert.Equal((PromotionCondition.UnfairnessFell, false), (outcome.Report.Rule!.DecidedBy, outcome.Report.Rule.TargetShown));
        Assert.All(outcome.Report.Tasks, t => Assert.Equal((2, 1, 0), (t.TrainingPrompts, t.EvaluationPrompts, t.PromptOverlap)));
        var republished = (await ReportPublisher.ReadAsync(store, "ext"))!;
        Assert.NotNull(republished.Mitigation);
        Assert.False(republished.Mitigation!.Promoted);
        Assert.Null(await store.OpenArtifactAsync("ext", RunArtifact.PromotedDrafter));
        sender.Verify(s => s.SendAsync(It.IsAny<MitigationPlan>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task MitigateDrafter_Gating_ReEvaluatesEachTaskAtItsGammaStar()
    {
        var (host, store) = await StartAsync(Mock.Of<IMitigationPlanSender>());
        await using var _ = host;
        var request = Request("gate") with { Settings = new EvaluationSettings { Gamma = 3, MaxNewTokens = 12, Repeats = 2 } };
        await host.Client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, request, new StartOrchestrationOptions("gate"));
        await WaitAsync(host.Client, "gate");
        var before = (await ReportPublisher.ReadAsync(store, "gate"))!;
        Assert.All(before.Tasks, t => Assert.InRange(t.OptimalGamma!.Value, 0, 3));

        var mitigation = MitigationRequests.From(request, MitigationStrategies.Gating);
        await host.Client.ScheduleNewOrchestrationInstanceAsync(DurableNames.MitigateDrafter, mitigation, new StartOrchestrationOptions("gate-mitigation"));
        var outcome = (await WaitAsync(host.Client, "gate-mitigation")).ReadOutputAs<MitigationOutcome>()!;

        // The re-evaluation ran every task at its γ* (recorded in the manifest and the report; null = the run's γ).
        Assert.Equal("gate-after-gating", outcome.AfterRunId);
        var manifest = (await store.GetManifestAsync("gate-after-gating"))!;
        var after = (await ReportPublisher.ReadAsync(store, "gate-after-gating"))!;
        foreach (var t in before.Tasks)
        {
            // γ* was chosen on the task's dev prompt (the last of its two training prompts), never on its evaluation
            // prompt: the report states the dev α, and γ* is the best prediction from it at the step costs timed in the run.
            var row = outcome.Report!.Tasks.Single(r => r.TaskId == t.TaskId);
            Assert.InRange(row.DevAlpha!.Value, 0, 1);
            var chosen = DraftLength.Best(row.DevAlpha.Value, before.Suite.StepCostProfile!);
            Assert.Equal(chosen, manifest.Tasks[t.TaskId].Gamma);
            var gated = after.Tasks.Single(a => a.TaskId == t.TaskId);
            Assert.Equal(chosen == 3 ? null : chosen, gated.Gamma);
            Assert.Equal((3, chosen), (row.GammaBefore!.Value, row.GammaAfter));
            Assert.Equal(1, row.DevPrompts);
            Assert.Equal((t.MeasuredSpeedup!.Value, gated.MeasuredSpeedup!.Value), (row.SpeedupBefore, row.SpeedupAfter));
        }

        // The rule, as the report states it: the worst task's measured speed-up shown to rise (its paired interval above
        // 0) and every task's after/before shown to stay at or above 0.95; the verdict follows from the intervals.
        var rule = outcome.Report!.Rule!;
        Assert.Equal(PromotionCondition.WorstTaskRose, rule.Target);
        Assert.Equal(after.Tasks.Min(t => t.MeasuredSpeedup!.Value) - before.Tasks.Min(t => t.MeasuredSpeedup!.Value), rule.TargetChange, 9);
        Assert.Equal(rule.TargetChangeCi.Lower > 0, rule.TargetShown);
        Assert.All(outcome.Report.Tasks, t => Assert.Equal(t.SpeedupRatioCi!.Lower >= 0.95, t.NoWorseOff));
        Assert.Equal(rule.TargetShown && outcome.Report.Tasks.All(t => t.NoWorseOff), outcome.Report.Promoted);
        Assert.Equal(rule.Reason, outcome.Reason);
        Assert.Equal("measured", outcome.Report.SpeedupKind);
        Assert.Equal(outcome.Report.Promoted ? MitigationStatus.Promoted : MitigationStatus.Kept, outcome.Status);
    }

    [Fact]
    public async Task EvaluateSuite_TaskAtGammaZero_DecodesPlainlyWithStatistics()
    {
        var (host, store) = await StartAsync(Mock.Of<IMitigationPlanSender>());
        await using var _ = host;
        var request = Request("plain");
        request = request with { Suite = request.Suite with { Tasks = [request.Suite.Tasks[0] with { Gamma = 0 }, .. request.Suite.Tasks.Skip(1)] } };
        await host.Client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, request, new StartOrchestrationOptions("plain"));
        await WaitAsync(host.Client, "plain");

        var report = (await ReportPublisher.ReadAsync(store, "plain"))!;
        var plain = report.Tasks.Single(t => t.TaskId == "t0");
        Assert.Equal(0, plain.Gamma);
        Assert.Equal((1.0, 1.0), (plain.AnalyticalSpeedup, plain.RefinedSpeedup));
        Assert.True(double.IsNaN(plain.SpeedupBound));
        Assert.InRange(plain.Alpha, 0, 1);
        Assert.True(plain.CrossEntropy > 0);

        // Both timed arms are the verifier alone with the same seed: they generate the same tokens.
        var prompts = new List<Core.Tracing.PromptTrace>();
        await foreach (var record in store.ReadTraceAsync("plain", "t0"))
        {
            if (record is Core.Tracing.PromptTrace p)
            {
                prompts.Add(p);
            }
        }

        Assert.All(prompts, p => Assert.True(p.Plain));
        Assert.All(prompts, p => Assert.Equal(p.BaselineTokens, p.GeneratedTokens));
        Assert.Null(report.Tasks.Single(t => t.TaskId == "t1").Gamma);
    }

    [Fact]
    public async Task MitigateDrafter_NoTrainerAnswers_TimesOutCleanly()
    {
        var sender = new Mock<IMitigationPlanSender>();
        sender.Setup(s => s.SendAsync(It.IsAny<MitigationPlan>(), It.IsAny<CancellationToken>())).Returns(Task.CompletedTask);
        var (host, store) = await StartAsync(sender.Object);
        await using var _ = host;
        var request = Request("late");
        await host.Client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, request, new StartOrchestrationOptions("late"));
        await WaitAsync(host.Client, "late");

        await host.Client.ScheduleNewOrchestrationInstanceAsync(
            DurableNames.MitigateDrafter, MitigationRequests.From(request) with { ExternalTimeoutSeconds = 2 }, new StartOrchestrationOptions("late-mitigation"));
        var state = await WaitAsync(host.Client, "late-mitigation");
        var outcome = state.ReadOutputAs<MitigationOutcome>()!;
        Assert.Equal(MitigationStatus.TimedOut, outcome.Status);
        Assert.Null(outcome.AfterRunId);
        Assert.Null(await store.GetManifestAsync("late-after-s-cdf"));
    }
}

public class MitigationDataRuleTests
{
    private static MitigationRequest Request(params SuiteTask[] tasks)
    {
        var evaluation = new EvaluationRequest { RunId = "r", Suite = new SuiteDefinition { Name = "s", Tasks = tasks }, Verifier = "v", Drafter = "d" };
        return MitigationRequests.From(evaluation);
    }

    [Fact]
    public void Data_TrainingPromptsOnly_NoFallbackToEvaluationPrompts()
    {
        var request = Request(
            new SuiteTask { Id = "en", Prompts = ["a", "b", "c"], TrainingPrompts = ["x", "y"] },
            new SuiteTask { Id = "ja", Prompts = ["p", "q"] });

        Assert.Equal([], PlanMitigationActivity.TrainingPrompts(request)["ja"]);
        Assert.Equal(
            [new MitigationTaskData("en", 2, 3, 0, DevPrompts: 1), new MitigationTaskData("ja", 0, 2, 0)],
            PlanMitigationActivity.Data(request));
        Assert.Equal(
            "mitigation refused: task 'ja' has no training prompts, and corrective data never comes from evaluation prompts; "
            + "give every task \"trainingPrompts\" disjoint from its \"prompts\" (for MGSM: specfn suite import-mgsm --training-per-language N)",
            MitigationData.RefusalReason(PlanMitigationActivity.Data(request)));
    }

    [Fact]
    public void Data_TrainingPromptsRepeatingEvaluationPrompts_OverlapCountedAfterTrimmingAndRefused()
    {
        // " b" and "c " are evaluation prompts once trimmed; "B" is not (ordinal); the repeated "c" counts twice.
        var request = Request(
            new SuiteTask { Id = "en", Prompts = ["a", "b", "c"], TrainingPrompts = [" b", "B", "c ", "c", "d"] },
            new SuiteTask { Id = "de", Prompts = ["e"], TrainingPrompts = ["f"] });

        Assert.Equal([new MitigationTaskData("en", 5, 3, 3, DevPrompts: 1), new MitigationTaskData("de", 1, 1, 0, DevPrompts: 1)], PlanMitigationActivity.Data(request));
        Assert.Equal(
            "mitigation refused: training prompts that are also evaluation prompts in task 'en' (3); training and evaluation prompts must be disjoint",
            MitigationData.RefusalReason(PlanMitigationActivity.Data(request)));
    }

    [Fact]
    public void RefusalReason_DisjointTrainingForEveryTask_Null()
    {
        var request = Request(new SuiteTask { Id = "en", Prompts = ["a"], TrainingPrompts = ["b"] });

        Assert.Null(MitigationData.RefusalReason(PlanMitigationActivity.Data(request)));
    }
}

/// <summary>The orchestration's enums are serialised as the strings the API, the queue and the custom status always carried.</summary>
public class WireNameTests
{
    public static TheoryData<object, string> Names => new()
    {
        { MitigationStatus.Promoted, "promoted" }, { MitigationStatus.Kept, "kept" }, { MitigationStatus.TimedOut, "timed-out" }, { MitigationStatus.Refused, "refused" },
        { MitigationPath.InProcess, "in-process" }, { MitigationPath.External, "external" }, { MitigationPath.Refused, "refused" },
        { TaskOutcome.Committed, "committed" }, { TaskOutcome.Reused, "reused" }, { TaskOutcome.Failed, "failed" }, { TaskOutcome.Cancelled, "cancelled" },
        { EvaluationPhase.WaitingForTrainer, "waiting-for-trainer" }, { EvaluationPhase.ReEvaluating, "re-evaluating" }, { EvaluationPhase.Done, "done" },
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void EnumValue_SerialisesAsItsWireString_AndBack(object value, string wire)
    {
        var type = value.GetType();
        var json = System.Text.Json.JsonSerializer.Serialize(value, type);

        Assert.Equal($"\"{wire}\"", json);
        Assert.Equal(value, System.Text.Json.JsonSerializer.Deserialize(json, type));
        // Also under the camel-case enum policy the CLI and the reports use: the member's own name wins.
        var camel = new System.Text.Json.JsonSerializerOptions { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase) } };
        Assert.Equal($"\"{wire}\"", System.Text.Json.JsonSerializer.Serialize(value, type, camel));
    }

    [Fact]
    public void EveryMember_HasAWireString()
    {
        foreach (var type in new[] { typeof(MitigationStatus), typeof(MitigationPath), typeof(TaskOutcome), typeof(EvaluationPhase) })
        {
            foreach (var field in type.GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static))
            {
                Assert.NotNull(field.GetCustomAttributes(typeof(System.Text.Json.Serialization.JsonStringEnumMemberNameAttribute), false).SingleOrDefault());
            }
        }
    }
}
