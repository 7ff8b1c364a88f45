using Microsoft.DurableTask;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Mitigation;

namespace SpecFunctions.Orchestration;

/// <summary>
/// The closed loop of method.md §6: weights from measured D_T → a new drafter (trained in process for supported
/// families, else by an external trainer awaited as a Durable external event with a timeout) → re-evaluate the same
/// suite with it → before/after report → promote only what the paired-bootstrap rule shows to help (<see cref="SpecFunctions.Core.Mitigation.PromotionRule"/>).
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

        context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.Planning });
        var planned = await context.CallActivityAsync<MitigationPlanOutcome>(DurableNames.PlanMitigation, request with { }, TaskEvaluation.Retry).ConfigureAwait(true);
        if (planned.Path == MitigationPath.Refused)
        {
            context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.Refused });
            return new MitigationOutcome { Status = MitigationStatus.Refused, Reason = planned.Reason ?? "mitigation refused" };
        }

        NewDrafter? drafter;
        if (planned.Path == MitigationPath.InProcess)
        {
            context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.Training });
            drafter = await context.CallActivityAsync<NewDrafter>(DurableNames.FineTuneDrafter, request).ConfigureAwait(true);
        }
        else
        {
            await context.CallActivityAsync(DurableNames.SendMitigationPlan, planned.Plan!, TaskEvaluation.Retry).ConfigureAwait(true);
            context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.WaitingForTrainer });
            try
            {
                drafter = await context.WaitForExternalEvent<NewDrafter>(DrafterReadyEvent, TimeSpan.FromSeconds(request.ExternalTimeoutSeconds)).ConfigureAwait(true);
            }
            catch (TaskCanceledException)
            {
                return new MitigationOutcome { Status = MitigationStatus.TimedOut, Reason = $"no {DrafterReadyEvent} event within {request.ExternalTimeoutSeconds:G} s; the current drafter stays" };
            }
        }

        return await ReEvaluateAndCompareAsync(context, request, request.Evaluation with { Drafter = drafter.Reference }, drafter).ConfigureAwait(true);
    }

    /// <summary>The gating strategy: each task at its γ* (chosen on its dev prompts), re-evaluated and compared on measured speed-ups.</summary>
    private static async Task<MitigationOutcome> GateAsync(TaskOrchestrationContext context, MitigationRequest request)
    {
        context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.Planning });
        var plan = await context.CallActivityAsync<GatingPlan>(DurableNames.PlanGating, request, TaskEvaluation.Retry).ConfigureAwait(true);
        if (plan.Refusal is { } refusal)
        {
            context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.Refused });
            return new MitigationOutcome { Status = MitigationStatus.Refused, Reason = refusal };
        }

        var suite = request.Evaluation.Suite with { Tasks = [.. request.Evaluation.Suite.Tasks.Select(t => t with { Gamma = plan.Gammas[t.Id] })] };
        var drafter = new NewDrafter { Reference = request.Evaluation.Drafter, Identity = plan.Drafter, Notes = "gating: " + string.Join(", ", plan.Gammas.Select(g => $"{g.Key} γ={g.Value}")) };
        return await ReEvaluateAndCompareAsync(context, request, request.Evaluation with { Suite = suite }, drafter, plan.DevAlpha).ConfigureAwait(true);
    }

    /// <summary>
    /// Both paths' tail: re-evaluate the suite as <paramref name="evaluation"/> under the deterministic "after" run id
    /// (with auto-mitigation off), then compare it with the evaluated run and apply the promotion rule.
    /// </summary>
    private static async Task<MitigationOutcome> ReEvaluateAndCompareAsync(
        TaskOrchestrationContext context, MitigationRequest request, EvaluationRequest evaluation, NewDrafter drafter,
        IReadOnlyDictionary<string, double>? devAlpha = null)
    {
        context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.ReEvaluating });
        var afterRunId = AfterRunId(request);
        evaluation = evaluation with { RunId = afterRunId, Mitigation = evaluation.Mitigation with { AutoMitigate = false } };
        var after = await context.CallSubOrchestratorAsync<EvaluationOutcome>(
            DurableNames.EvaluateSuite, evaluation, new SubOrchestrationOptions { InstanceId = afterRunId }).ConfigureAwait(true);

        context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.Comparing });
        var outcome = await context.CallActivityAsync<MitigationOutcome>(
            DurableNames.CompareAndPromote, new CompareInput { Request = request, AfterRunId = after.RunId, Drafter = drafter, DevAlpha = devAlpha }, TaskEvaluation.Retry).ConfigureAwait(true);
        context.SetCustomStatus(new EvaluationProgress { Phase = EvaluationPhase.Done });
        return outcome;
    }

    /// <summary>The re-evaluation's run id: deterministic, so a replayed or repeated mitigation joins the same run.</summary>
    public static string AfterRunId(MitigationRequest request)
    {
        var id = $"{request.RunId}-after-{request.Strategy}";
        return id.Length <= 64 ? id : id[..64];
    }
}
