using SpecFunctions.Core.Evaluation;

namespace SpecFunctions.Orchestration;

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
        SpeedupMargin = evaluation.Mitigation.SpeedupMargin,
        Seed = (int)(evaluation.Settings.Seed & 0x7FFFFFFF),
        TrainingPrompts = evaluation.Suite.Tasks
            .Where(t => t.TrainingPrompts is { Count: > 0 })
            .ToDictionary(t => t.Id, t => t.TrainingPrompts!),
    };
}
