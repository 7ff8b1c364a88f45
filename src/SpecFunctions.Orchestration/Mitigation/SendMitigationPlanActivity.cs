using Microsoft.DurableTask;

namespace SpecFunctions.Orchestration;

/// <summary>Sends the plan to the external trainer.</summary>
public sealed class SendMitigationPlanActivity(IMitigationPlanSender sender) : TaskActivity<MitigationPlan, bool>
{
    public override async Task<bool> RunAsync(TaskActivityContext context, MitigationPlan plan)
    {
        await sender.SendAsync(plan, CancellationToken.None).ConfigureAwait(false);
        return true;
    }
}
