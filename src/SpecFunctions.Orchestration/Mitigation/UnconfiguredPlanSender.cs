
namespace SpecFunctions.Orchestration;

/// <summary>The default sender: no external trainer is configured, so the plan cannot be handed over.</summary>
public sealed class UnconfiguredPlanSender : IMitigationPlanSender
{
    public Task SendAsync(MitigationPlan plan, CancellationToken cancellationToken) =>
        throw new InvalidOperationException(
            $"no external trainer is configured for drafter family '{plan.BaseDrafter.Family}': set Mitigation:QueueName (MITIGATION_QUEUE) and the queue's storage account; the plan is at {plan.PlanLocation}");
}
