
namespace SpecFunctions.Orchestration;

/// <summary>Hands a plan to an external trainer (a queue message or a webhook).</summary>
public interface IMitigationPlanSender
{
    Task SendAsync(MitigationPlan plan, CancellationToken cancellationToken);
}
