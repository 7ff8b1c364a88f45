using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Orchestration;

/// <summary>
/// Chooses γ* per task for the gating strategy on the dev split of its training prompts, never on the evaluation prompts
/// (method.md §6): the verifier continues each dev prompt, one untimed reference pass gives the task's dev α, and
/// <see cref="DraftLength.Best"/> turns it into γ* with the evaluated run's measured c and verifier cost profile (costs
/// of the pair on this hardware, not a choice from data). Refuses when the run has no cost profile, or a task has no
/// training prompts or shares one with its evaluation prompts.
/// </summary>
public sealed class PlanGatingActivity(ITraceStore store, ModelCache models, ILogger<PlanGatingActivity> logger) : TaskActivity<MitigationRequest, GatingPlan>
{
    public override async Task<GatingPlan> RunAsync(TaskActivityContext context, MitigationRequest request)
    {
        var runId = request.RunId;
        if (MitigationData.RefusalReason(PlanMitigationActivity.Data(request)) is { } dataRefusal)
        {
            return Refuse(runId, $"gating chooses each task's draft length on the dev split of its training prompts: {dataRefusal}");
        }

        var before = await ReportPublisher.ReadAsync(store, runId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"run '{runId}' has no report to mitigate");
        if (before.Suite.VerificationCostProfile is not { Count: > 0 } profile || before.Drafter is null)
        {
            return Refuse(runId, "gating needs the verifier's cost per draft length, and the run measured no verifier cost profile (it needs a baseline)");
        }

        var (drafter, _, verifier, _) = models.GetPair(request.Evaluation.Drafter, request.Evaluation.Verifier);
        var options = EvaluationDefaults.ToDecodingOptions(request.Evaluation.Settings with { Gamma = 1 }, verifier) with { ComputeStatistics = false };
        var continuation = new AutoregressiveDecoder(verifier, options);
        var reference = new ReferencePass(drafter, verifier, options.Sampling);
        var training = PlanMitigationActivity.TrainingPrompts(request);
        var gammas = new Dictionary<string, int>(StringComparer.Ordinal);
        var devAlpha = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var task in request.Evaluation.Suite.Tasks)
        {
            var (_, dev) = MitigationData.DevSplit(training[task.Id]);
            double alphaSum = 0;
            var positions = 0;
            for (var i = 0; i < dev.Count; i++)
            {
                var prompt = EvaluationDefaults.Tokenize(verifier, dev[i]);
                var trace = reference.Run(i, prompt, continuation.Generate(prompt, i).Tokens, ReferenceSource.Baseline);
                alphaSum += trace.Alpha.Sum();
                positions += trace.Alpha.Length;
            }

            if (positions == 0)
            {
                return Refuse(runId, $"task '{task.Id}': the verifier continued none of its {dev.Count} dev prompts (each at the context length or ending at once), so its draft length cannot be chosen");
            }

            devAlpha[task.Id] = alphaSum / positions;
            gammas[task.Id] = before.Suite.StepCostProfile is { Count: > 0 } stepCosts
                ? DraftLength.Best(devAlpha[task.Id], stepCosts)
                : DraftLength.Best(devAlpha[task.Id], before.Suite.CostRatio, profile);
        }

        return new GatingPlan { Gammas = gammas, DevAlpha = devAlpha, Drafter = before.Drafter };
    }

    private GatingPlan Refuse(string runId, string reason)
    {
        logger.MitigationRefused(runId, reason);
        return new GatingPlan { Refusal = reason };
    }
}
