using System.Text.Json;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

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
            return new MitigationPlanOutcome { Path = MitigationPath.Refused, Reason = refusal };
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
            TrainingPrompts = TrainingPrompts(request).ToDictionary(t => t.Key, t => MitigationData.DevSplit(t.Value).Train),
            DevPrompts = TrainingPrompts(request).ToDictionary(t => t.Key, t => MitigationData.DevSplit(t.Value).Dev),
            Settings = request.Evaluation.Settings,
        };
        await store.WriteArtifactAsync(request.RunId, RunArtifact.MitigationPlan, async (stream, ct) =>
            await JsonSerializer.SerializeAsync(stream, plan, EvaluationDefaults.Json, ct).ConfigureAwait(false)).ConfigureAwait(false);
        return new MitigationPlanOutcome { Path = inProcess ? MitigationPath.InProcess : MitigationPath.External, Plan = plan };
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
