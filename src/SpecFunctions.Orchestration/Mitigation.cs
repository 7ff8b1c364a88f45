using System.Text.Json;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Mitigation.Training;

namespace SpecFunctions.Orchestration;

/// <summary>Mitigation strategies (method.md §6 and the paper's baselines).</summary>
public static class MitigationStrategies
{
    /// <summary>Stochastic corrective drafter fine-tuning: sample tasks by D_T-derived weights.</summary>
    public const string SCdf = "s-cdf";

    /// <summary>Data balancing: uniform task sampling, same loss.</summary>
    public const string Balanced = "balanced";

    /// <summary>Sweep a drafter-only softmax temperature and keep the fairest (no training; lossless).</summary>
    public const string Temperature = "temperature";

    /// <summary>
    /// The draft length that pays, per task: re-evaluate each task at its γ* from the report (plain decoding where γ* = 0);
    /// no training, drafter and verifier unchanged.
    /// </summary>
    public const string Gating = "gating";

    /// <summary>No change: re-evaluates the same drafter (a control).</summary>
    public const string None = "none";

    /// <summary>Every strategy, in the order the HTTP API and the CLI list them.</summary>
    public static IReadOnlyList<string> All => EvaluationRequestParser.Strategies;
}

/// <summary>Input of the <c>MitigateDrafter</c> orchestration.</summary>
public sealed record MitigationRequest
{
    /// <summary>The evaluated run ("before").</summary>
    public required string RunId { get; init; }

    /// <summary>The evaluation that produced it (suite, models, settings); re-run with the new drafter.</summary>
    public required EvaluationRequest Evaluation { get; init; }

    public string Strategy { get; init; } = MitigationStrategies.SCdf;

    public WeightRule WeightRule { get; init; } = WeightRule.ShiftByMinimum;

    /// <summary>
    /// Training prompts per task id (corrective data comes from the verifier's generations on these). A task without
    /// any, or with one that is also an evaluation prompt, gets the mitigation refused (<see cref="MitigationData"/>).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> TrainingPrompts { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Largest relative drop of mean speed-up that still allows promotion. Default 0.02.</summary>
    public double MeanSpeedupTolerance { get; init; } = 0.02;

    /// <summary>How long to wait for an external trainer's new drafter, seconds. Default 24 h.</summary>
    public double ExternalTimeoutSeconds { get; init; } = 24 * 3600;

    public int Seed { get; init; } = 1;
}

/// <summary>A new drafter version (from the in-process trainer or an external one).</summary>
public sealed record NewDrafter
{
    /// <summary>Model reference the evaluation resolves: <c>{name}@{sha256}</c> for a stored version.</summary>
    public required string Reference { get; init; }

    public required ModelIdentity Identity { get; init; }

    /// <summary>What the trainer did (steps, weights, chosen temperature...).</summary>
    public string? Notes { get; init; }
}

/// <summary>The plan handed to an external trainer (model families the service cannot train in process).</summary>
public sealed record MitigationPlan
{
    public required string RunId { get; init; }

    /// <summary>Instance id of the waiting orchestration; the trainer raises <c>DrafterReady</c> on it.</summary>
    public required string InstanceId { get; init; }

    public required string Strategy { get; init; }
    public required WeightRule WeightRule { get; init; }

    /// <summary>Task id → (D_T, weight).</summary>
    public required IReadOnlyDictionary<string, TaskWeight> Tasks { get; init; }

    public required ModelIdentity BaseDrafter { get; init; }
    public required ModelIdentity Verifier { get; init; }

    /// <summary>Where the plan (and the run's traces) live in the store.</summary>
    public required string PlanLocation { get; init; }

    public required IReadOnlyDictionary<string, IReadOnlyList<string>> TrainingPrompts { get; init; }

    /// <summary>Hyperparameters the trainer should use (documented defaults of the in-process trainer).</summary>
    public IReadOnlyDictionary<string, double> Hyperparameters { get; init; } = new Dictionary<string, double>();
}

public sealed record TaskWeight(double CrossEntropy, double Weight);

/// <summary>What <c>PlanMitigation</c> decided.</summary>
public sealed record MitigationPlanOutcome
{
    public const string InProcess = "in-process";
    public const string External = "external";
    public const string Refused = "refused";

    /// <summary>in-process | external | refused.</summary>
    public required string Path { get; init; }

    /// <summary>The plan (null when refused).</summary>
    public MitigationPlan? Plan { get; init; }

    /// <summary>Why the mitigation was refused (one line; null otherwise).</summary>
    public string? Reason { get; init; }
}

/// <summary>Output of <c>MitigateDrafter</c>.</summary>
public sealed record MitigationOutcome
{
    /// <summary>promoted | kept | timed-out | refused (no training prompts, or some are evaluation prompts: nothing trained) | failed.</summary>
    public required string Status { get; init; }
    public required string Reason { get; init; }
    public string? AfterRunId { get; init; }
    public MitigationReport? Report { get; init; }
}

/// <summary>Hands a plan to an external trainer (a queue message or a webhook).</summary>
public interface IMitigationPlanSender
{
    Task SendAsync(MitigationPlan plan, CancellationToken cancellationToken);
}

/// <summary>
/// The closed loop of method.md §6: weights from measured D_T → a new drafter (trained in process for supported
/// families, else by an external trainer awaited as a Durable external event with a timeout) → re-evaluate the same
/// suite with it → before/after report → promote only if U fell and mean speed-up held.
/// </summary>
public sealed class MitigateDrafterOrchestrator : TaskOrchestrator<MitigationRequest, MitigationOutcome>
{
    public const string DrafterReadyEvent = "DrafterReady";

    public override async Task<MitigationOutcome> RunAsync(TaskOrchestrationContext context, MitigationRequest request)
    {
        if (request.Strategy == MitigationStrategies.Gating)
        {
            return await GateAsync(context, request).ConfigureAwait(true);
        }

        context.SetCustomStatus(new EvaluationProgress { Phase = "planning" });
        var planned = await context.CallActivityAsync<MitigationPlanOutcome>(DurableNames.PlanMitigation, request with { }, TaskEvaluation.Retry).ConfigureAwait(true);
        if (planned.Path == MitigationPlanOutcome.Refused)
        {
            context.SetCustomStatus(new EvaluationProgress { Phase = "refused" });
            return new MitigationOutcome { Status = MitigationPlanOutcome.Refused, Reason = planned.Reason ?? "mitigation refused" };
        }

        NewDrafter? drafter;
        if (planned.Path == MitigationPlanOutcome.InProcess)
        {
            context.SetCustomStatus(new EvaluationProgress { Phase = "training" });
            drafter = await context.CallActivityAsync<NewDrafter>(DurableNames.FineTuneDrafter, request).ConfigureAwait(true);
        }
        else
        {
            await context.CallActivityAsync(DurableNames.SendMitigationPlan, planned.Plan!, TaskEvaluation.Retry).ConfigureAwait(true);
            context.SetCustomStatus(new EvaluationProgress { Phase = "waiting-for-trainer" });
            try
            {
                drafter = await context.WaitForExternalEvent<NewDrafter>(DrafterReadyEvent, TimeSpan.FromSeconds(request.ExternalTimeoutSeconds)).ConfigureAwait(true);
            }
            catch (TaskCanceledException)
            {
                return new MitigationOutcome { Status = "timed-out", Reason = $"no {DrafterReadyEvent} event within {request.ExternalTimeoutSeconds:G} s; the current drafter stays" };
            }
        }

        context.SetCustomStatus(new EvaluationProgress { Phase = "re-evaluating" });
        var afterRunId = AfterRunId(request);
        var evaluation = request.Evaluation with
        {
            RunId = afterRunId,
            Drafter = drafter.Reference,
            Mitigation = request.Evaluation.Mitigation with { AutoMitigate = false },
        };
        var after = await context.CallSubOrchestratorAsync<EvaluationOutcome>(
            DurableNames.EvaluateSuite, evaluation, new SubOrchestrationOptions { InstanceId = afterRunId }).ConfigureAwait(true);

        context.SetCustomStatus(new EvaluationProgress { Phase = "comparing" });
        var outcome = await context.CallActivityAsync<MitigationOutcome>(
            DurableNames.CompareAndPromote, new CompareInput { Request = request, AfterRunId = after.RunId, Drafter = drafter }, TaskEvaluation.Retry).ConfigureAwait(true);
        context.SetCustomStatus(new EvaluationProgress { Phase = "done" });
        return outcome;
    }

    /// <summary>The gating strategy: each task at its γ* (from the report's cost profile), re-evaluated and compared on measured speed-ups.</summary>
    private static async Task<MitigationOutcome> GateAsync(TaskOrchestrationContext context, MitigationRequest request)
    {
        context.SetCustomStatus(new EvaluationProgress { Phase = "planning" });
        var plan = await context.CallActivityAsync<GatingPlan>(DurableNames.PlanGating, request.RunId, TaskEvaluation.Retry).ConfigureAwait(true);
        if (plan.Refusal is { } refusal)
        {
            context.SetCustomStatus(new EvaluationProgress { Phase = "refused" });
            return new MitigationOutcome { Status = MitigationPlanOutcome.Refused, Reason = refusal };
        }

        context.SetCustomStatus(new EvaluationProgress { Phase = "re-evaluating" });
        var afterRunId = AfterRunId(request);
        var suite = request.Evaluation.Suite with { Tasks = [.. request.Evaluation.Suite.Tasks.Select(t => t with { Gamma = plan.Gammas[t.Id] })] };
        var evaluation = request.Evaluation with
        {
            RunId = afterRunId,
            Suite = suite,
            Mitigation = request.Evaluation.Mitigation with { AutoMitigate = false },
        };
        var after = await context.CallSubOrchestratorAsync<EvaluationOutcome>(
            DurableNames.EvaluateSuite, evaluation, new SubOrchestrationOptions { InstanceId = afterRunId }).ConfigureAwait(true);

        context.SetCustomStatus(new EvaluationProgress { Phase = "comparing" });
        var drafter = new NewDrafter { Reference = request.Evaluation.Drafter, Identity = plan.Drafter, Notes = "gating: " + string.Join(", ", plan.Gammas.Select(g => $"{g.Key} γ={g.Value}")) };
        var outcome = await context.CallActivityAsync<MitigationOutcome>(
            DurableNames.CompareAndPromote, new CompareInput { Request = request, AfterRunId = after.RunId, Drafter = drafter }, TaskEvaluation.Retry).ConfigureAwait(true);
        context.SetCustomStatus(new EvaluationProgress { Phase = "done" });
        return outcome;
    }

    /// <summary>The re-evaluation's run id: deterministic, so a replayed or repeated mitigation joins the same run.</summary>
    public static string AfterRunId(MitigationRequest request)
    {
        var id = $"{request.RunId}-after-{request.Strategy}";
        return id.Length <= 64 ? id : id[..64];
    }
}

public sealed record CompareInput
{
    public required MitigationRequest Request { get; init; }
    public required string AfterRunId { get; init; }
    public required NewDrafter Drafter { get; init; }
}

/// <summary>
/// Refuses a mitigation whose training data is missing or overlaps the evaluation prompts (<see cref="MitigationData"/>);
/// otherwise reads the "before" report, computes task weights and decides whether the drafter trains in process.
/// </summary>
public sealed class PlanMitigationActivity(ITraceStore store, ModelCache models, IEnumerable<IDrafterTrainer> trainers, ILogger<PlanMitigationActivity> logger)
    : TaskActivity<MitigationRequest, MitigationPlanOutcome>
{
    public override async Task<MitigationPlanOutcome> RunAsync(TaskActivityContext context, MitigationRequest request)
    {
        if (MitigationData.RefusalReason(Data(request)) is { } refusal)
        {
            logger.MitigationRefused(request.RunId, refusal);
            return new MitigationPlanOutcome { Path = MitigationPlanOutcome.Refused, Reason = refusal };
        }

        var before = await ReportPublisher.ReadAsync(store, request.RunId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"run '{request.RunId}' has no report to mitigate");
        var rule = request.Strategy == MitigationStrategies.Balanced ? WeightRule.Uniform : request.WeightRule;
        var weights = TaskWeights.Compute([.. before.Tasks.Select(t => t.CrossEntropy)], rule);
        var (drafter, drafterId) = models.Get(request.Evaluation.Drafter);
        var (_, verifierId) = models.Get(request.Evaluation.Verifier);
        var inProcess = trainers.Any(t => t.Supports(drafter.Manifest.Family));
        var plan = new MitigationPlan
        {
            RunId = request.RunId,
            InstanceId = context.InstanceId,
            Strategy = request.Strategy,
            WeightRule = rule,
            Tasks = before.Tasks.Select((t, i) => (t.TaskId, new TaskWeight(t.CrossEntropy, weights[i]))).ToDictionary(x => x.TaskId, x => x.Item2),
            BaseDrafter = drafterId,
            Verifier = verifierId,
            PlanLocation = $"{store.Location}/{TraceStoreLayout.Artifact(request.RunId, RunArtifact.MitigationPlan)}",
            TrainingPrompts = TrainingPrompts(request),
        };
        await store.WriteArtifactAsync(request.RunId, RunArtifact.MitigationPlan, async (stream, ct) =>
            await JsonSerializer.SerializeAsync(stream, plan, EvaluationDefaults.Json, ct).ConfigureAwait(false)).ConfigureAwait(false);
        return new MitigationPlanOutcome { Path = inProcess ? MitigationPlanOutcome.InProcess : MitigationPlanOutcome.External, Plan = plan };
    }

    /// <summary>Per task of the suite: its training prompts only (empty when it has none; then the plan is refused).</summary>
    internal static IReadOnlyDictionary<string, IReadOnlyList<string>> TrainingPrompts(MitigationRequest request) =>
        request.Evaluation.Suite.Tasks.ToDictionary(
            t => t.Id,
            t => request.TrainingPrompts.TryGetValue(t.Id, out var p) ? p : []);

    /// <summary>The data the mitigation would use: per task, training and evaluation prompt counts and their overlap.</summary>
    public static IReadOnlyList<MitigationTaskData> Data(MitigationRequest request)
    {
        var training = TrainingPrompts(request);
        return MitigationData.Describe(request.Evaluation.Suite.Tasks.Select(t => (t.Id, t.Prompts, (IReadOnlyList<string>?)training[t.Id])));
    }
}

/// <summary>What <c>PlanGating</c> decided: γ* per task, or why gating cannot run.</summary>
public sealed record GatingPlan
{
    public IReadOnlyDictionary<string, int> Gammas { get; init; } = new Dictionary<string, int>();

    public ModelIdentity Drafter { get; init; } = new() { Name = "unknown", Sha256 = new string('0', 64) };

    /// <summary>Why gating is refused (the report has no γ* for some task); null when it runs.</summary>
    public string? Refusal { get; init; }
}

/// <summary>Reads γ* per task from the evaluated run's report (its verifier cost profile); refuses when a task has none.</summary>
public sealed class PlanGatingActivity(ITraceStore store, ILogger<PlanGatingActivity> logger) : TaskActivity<string, GatingPlan>
{
    public override async Task<GatingPlan> RunAsync(TaskActivityContext context, string runId)
    {
        var before = await ReportPublisher.ReadAsync(store, runId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"run '{runId}' has no report to mitigate");
        var missing = before.Tasks.Where(t => t.OptimalGamma is null).Select(t => t.TaskId).ToList();
        if (missing.Count > 0 || before.Drafter is null)
        {
            var reason = $"gating needs the draft length that pays per task, and the report has none for {string.Join(", ", missing)}: the run measured no verifier cost profile (it needs a baseline)";
            logger.MitigationRefused(runId, reason);
            return new GatingPlan { Refusal = reason };
        }

        return new GatingPlan { Gammas = before.Tasks.ToDictionary(t => t.TaskId, t => t.OptimalGamma!.Value), Drafter = before.Drafter };
    }
}

/// <summary>Sends the plan to the external trainer.</summary>
public sealed class SendMitigationPlanActivity(IMitigationPlanSender sender) : TaskActivity<MitigationPlan, bool>
{
    public override async Task<bool> RunAsync(TaskActivityContext context, MitigationPlan plan)
    {
        await sender.SendAsync(plan, CancellationToken.None).ConfigureAwait(false);
        return true;
    }
}

/// <summary>Fine-tunes the drafter in process and stores the new version content-addressed under <c>models/</c>.</summary>
public sealed class FineTuneDrafterActivity(ITraceStore store, ModelCache models, IEnumerable<IDrafterTrainer> trainers, ILogger<FineTuneDrafterActivity> logger)
    : TaskActivity<MitigationRequest, NewDrafter>
{
    public override async Task<NewDrafter> RunAsync(TaskActivityContext context, MitigationRequest request)
    {
        var before = await ReportPublisher.ReadAsync(store, request.RunId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"run '{request.RunId}' has no report to mitigate");
        var (drafter, drafterId) = models.Get(request.Evaluation.Drafter);
        var trainer = trainers.First(t => t.Supports(drafter.Manifest.Family));
        var prompts = PlanMitigationActivity.TrainingPrompts(request);
        var tasks = before.Tasks.Select(t => new MitigationTask(
            t.TaskId, t.CrossEntropy, prompts[t.TaskId], request.Evaluation.Suite.Tasks.First(s => s.Id == t.TaskId).Prompts)).ToList();
        var job = new DrafterTrainingJob
        {
            VerifierFolder = models.GetFolder(request.Evaluation.Verifier),
            DrafterFolder = models.GetFolder(request.Evaluation.Drafter),
            Strategy = request.Strategy,
            WeightRule = request.WeightRule,
            Tasks = tasks,
            Seed = request.Seed,
        };

        // Train into a scratch folder; the stored version is content-addressed and immutable, so a crash or a retry
        // can never corrupt it — a repeated run produces (or finds) the same version.
        var scratch = Directory.CreateTempSubdirectory("specfn-drafter-").FullName;
        try
        {
            var folder = await trainer.TrainAsync(job, scratch, new Progress<string>(m => logger.TrainerProgress(request.RunId, m)), CancellationToken.None).ConfigureAwait(false);
            var corrective = Path.Combine(scratch, DrafterTrainerFiles.CorrectiveData);
            if (File.Exists(corrective))
            {
                await store.WriteArtifactAsync(request.RunId, RunArtifact.CorrectiveData, async (stream, ct) =>
                {
                    await using var source = File.OpenRead(corrective);
                    await source.CopyToAsync(stream, ct).ConfigureAwait(false);
                }).ConfigureAwait(false);
            }

            var identity = await store.PutModelAsync(drafterId.Name, folder).ConfigureAwait(false);
            identity = identity with { Family = drafter.Manifest.Family };
            var reference = models.AdoptVersion(identity, folder);
            return new NewDrafter { Reference = reference, Identity = identity, Notes = $"{request.Strategy} with {request.WeightRule}" };
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}

/// <summary>Builds the before/after report, applies the promotion rule and records the suite's current drafter.</summary>
public sealed class CompareAndPromoteActivity(ITraceStore store) : TaskActivity<CompareInput, MitigationOutcome>
{
    public override async Task<MitigationOutcome> RunAsync(TaskActivityContext context, CompareInput input)
    {
        var request = input.Request;
        var before = await ReportPublisher.ReadAsync(store, request.RunId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"run '{request.RunId}' has no report");
        var after = await ReportPublisher.ReadAsync(store, input.AfterRunId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"re-evaluation '{input.AfterRunId}' has no report");

        var (report, promoted, reason) = Compare(before, after, request, input.Drafter);
        await ReportPublisher.PublishAsync(store, before with { Mitigation = report }).ConfigureAwait(false);
        await ReportPublisher.PublishAsync(store, after with { Mitigation = report }).ConfigureAwait(false);
        if (promoted)
        {
            await store.WriteArtifactAsync(request.RunId, RunArtifact.PromotedDrafter, async (stream, ct) =>
                await JsonSerializer.SerializeAsync(stream, input.Drafter.Identity, EvaluationDefaults.Json, ct).ConfigureAwait(false)).ConfigureAwait(false);
        }

        return new MitigationOutcome { Status = promoted ? "promoted" : "kept", Reason = reason, AfterRunId = input.AfterRunId, Report = report };
    }

    /// <summary>
    /// The promotion rule: U fell and the mean analytical speed-up dropped by at most the tolerance (relative). Both
    /// runs' speed-ups use the "before" run's measured c, since the drafter's architecture (hence its cost) is unchanged:
    /// comparing at one c keeps timing noise out of the decision. Measured speed-ups stay in both reports.
    /// </summary>
    public static (MitigationReport Report, bool Promoted, string Reason) Compare(EvaluationReport before, EvaluationReport after, MitigationRequest request, NewDrafter drafter)
    {
        if (request.Strategy == MitigationStrategies.Gating)
        {
            return CompareGating(before, after, request, drafter);
        }

        var gamma = before.Suite.Gamma;
        var c = before.Suite.CostRatio;
        double AfterSpeedup(TaskReport t) => Core.Metrics.SpeculativeMath.AnalyticalSpeedup(t.Alpha, gamma, c);
        var afterTasks = after.Tasks.ToDictionary(t => t.TaskId);
        var data = PlanMitigationActivity.Data(request).ToDictionary(d => d.TaskId);
        var common = before.Tasks.Where(t => afterTasks.ContainsKey(t.TaskId)).ToList();
        var summary = Summarize(before, after, request, drafter, common, t => t.AnalyticalSpeedup, AfterSpeedup, "analytical");
        var (uBefore, uAfter, sBefore, sAfter) = (summary.UnfairnessBefore, summary.UnfairnessAfter, summary.MeanSpeedupBefore, summary.MeanSpeedupAfter);
        var uFell = uAfter < uBefore;
        var speedHeld = sAfter >= sBefore * (1 - request.MeanSpeedupTolerance);
        var promoted = uFell && speedHeld;
        var reason = promoted
            ? $"U {uBefore:G4} → {uAfter:G4} and mean S_T {sBefore:F3} → {sAfter:F3} (tolerance {request.MeanSpeedupTolerance:P0})"
            : !uFell
                ? $"kept the current drafter: U did not fall ({uBefore:G4} → {uAfter:G4})"
                : $"kept the current drafter: mean S_T fell {sBefore:F3} → {sAfter:F3}, more than {request.MeanSpeedupTolerance:P0}";
        var report = summary with
        {
            Tasks = [.. common.Select(t => Row(t, afterTasks[t.TaskId], t.AnalyticalSpeedup, AfterSpeedup(afterTasks[t.TaskId])) with
            {
                TrainingPrompts = data.TryGetValue(t.TaskId, out var d) ? d.TrainingPrompts : 0,
                PromptOverlap = d?.Overlap ?? 0,
            })],
            Promoted = promoted,
        };
        return (report, promoted, reason);
    }

    /// <summary>One task's row: α_T, D_T and the given speed-ups before and after, on the evaluated run's prompts.</summary>
    private static MitigationTaskReport Row(TaskReport before, TaskReport after, double speedupBefore, double speedupAfter) => new()
    {
        TaskId = before.TaskId,
        AlphaBefore = before.Alpha,
        AlphaAfter = after.Alpha,
        CrossEntropyBefore = before.CrossEntropy,
        CrossEntropyAfter = after.CrossEntropy,
        SpeedupBefore = speedupBefore,
        SpeedupAfter = speedupAfter,
        EvaluationPrompts = before.Prompts,
    };

    /// <summary>The figures both rules report: U, mean and worst/best speed-up (of the given kind) before and after, the drafters.</summary>
    private static MitigationReport Summarize(
        EvaluationReport before, EvaluationReport after, MitigationRequest request, NewDrafter drafter, IReadOnlyList<TaskReport> common,
        Func<TaskReport, double> speedupBefore, Func<TaskReport, double> speedupAfter, string kind)
    {
        var afterTasks = after.Tasks.ToDictionary(t => t.TaskId);
        double After(TaskReport t) => speedupAfter(afterTasks[t.TaskId]);
        return new MitigationReport
        {
            Strategy = request.Strategy,
            SpeedupKind = kind,
            UnfairnessBefore = before.Suite.Fairness.Unfairness,
            UnfairnessAfter = after.Suite.Fairness.Unfairness,
            MeanSpeedupBefore = common.Average(speedupBefore),
            MeanSpeedupAfter = common.Average(After),
            MinMaxSpeedupRatioBefore = common.Min(speedupBefore) / common.Max(speedupBefore),
            MinMaxSpeedupRatioAfter = common.Min(After) / common.Max(After),
            Promoted = false,
            DrafterBefore = before.Drafter,
            DrafterAfter = drafter.Identity,
        };
    }

    /// <summary>
    /// Gating's rule: the drafter is unchanged, so U is not the target (it moves only because D_T averages over the
    /// prefixes each γ drafts); the per-task draft lengths are adopted when the worst task's measured speed-up rose and
    /// the mean measured speed-up held within the tolerance. Measured, because only wall time says whether a draft length
    /// paid; a run without baselines falls back to the refined prediction.
    /// </summary>
    private static (MitigationReport Report, bool Promoted, string Reason) CompareGating(EvaluationReport before, EvaluationReport after, MitigationRequest request, NewDrafter drafter)
    {
        var afterTasks = after.Tasks.ToDictionary(t => t.TaskId);
        var common = before.Tasks.Where(t => afterTasks.ContainsKey(t.TaskId)).ToList();
        var measured = common.All(t => t.MeasuredSpeedup is not null && afterTasks[t.TaskId].MeasuredSpeedup is not null);
        double Speedup(TaskReport t) => measured ? t.MeasuredSpeedup!.Value : t.RefinedSpeedup;
        var kind = measured ? "measured" : "refined";
        var summary = Summarize(before, after, request, drafter, common, Speedup, Speedup, kind);
        var (sBefore, sAfter) = (summary.MeanSpeedupBefore, summary.MeanSpeedupAfter);
        var worstBefore = common.Min(Speedup);
        var worstAfter = common.Min(t => Speedup(afterTasks[t.TaskId]));
        var worstRose = worstAfter > worstBefore;
        var speedHeld = sAfter >= sBefore * (1 - request.MeanSpeedupTolerance);
        var promoted = worstRose && speedHeld;
        var reason = promoted
            ? $"per-task draft lengths adopted: worst {kind} speed-up {worstBefore:F3} → {worstAfter:F3}, mean {sBefore:F3} → {sAfter:F3} (tolerance {request.MeanSpeedupTolerance:P0})"
            : !worstRose
                ? $"kept γ = {before.Suite.Gamma} on every task: the worst {kind} speed-up did not rise ({worstBefore:F3} → {worstAfter:F3})"
                : $"kept γ = {before.Suite.Gamma} on every task: the mean {kind} speed-up fell {sBefore:F3} → {sAfter:F3}, more than {request.MeanSpeedupTolerance:P0}";
        var report = summary with
        {
            Promoted = promoted,
            Tasks = [.. common.Select(t => Row(t, afterTasks[t.TaskId], Speedup(t), Speedup(afterTasks[t.TaskId])) with
            {
                GammaBefore = t.Gamma ?? before.Suite.Gamma,
                GammaAfter = afterTasks[t.TaskId].Gamma ?? after.Suite.Gamma,
            })],
        };
        return (report, promoted, reason);
    }
}

/// <summary>Builds the mitigation request an evaluation's decision starts.</summary>
public static class MitigationRequests
{
    /// <summary>The instance id <c>EvaluateSuite</c> gives its <c>MitigateDrafter</c> sub-orchestration (an external trainer's <c>DrafterReady</c> goes there).</summary>
    public static string InstanceId(string runId) => $"{runId}-mitigation";

    public static MitigationRequest From(EvaluationRequest evaluation, string? strategy = null) => new()
    {
        RunId = evaluation.RunId,
        Evaluation = evaluation,
        Strategy = strategy ?? evaluation.Mitigation.Strategy,
        MeanSpeedupTolerance = evaluation.Mitigation.MeanSpeedupTolerance,
        Seed = (int)(evaluation.Settings.Seed & 0x7FFFFFFF),
        TrainingPrompts = evaluation.Suite.Tasks
            .Where(t => t.TrainingPrompts is { Count: > 0 })
            .ToDictionary(t => t.Id, t => t.TrainingPrompts!),
    };
}

/// <summary>The default sender: no external trainer is configured, so the plan cannot be handed over.</summary>
public sealed class UnconfiguredPlanSender : IMitigationPlanSender
{
    public Task SendAsync(MitigationPlan plan, CancellationToken cancellationToken) =>
        throw new InvalidOperationException(
            $"no external trainer is configured for drafter family '{plan.BaseDrafter.Family}': set Mitigation:QueueName (MITIGATION_QUEUE) and the queue's storage account; the plan is at {plan.PlanLocation}");
}
