namespace SpecFunctions.Orchestration;

/// <summary>Names of orchestrators and activities, shared by the Functions wrappers and the embedded engine.</summary>
public static class DurableNames
{
    public const string EvaluateSuite = "EvaluateSuite";

    /// <summary>External event that asks <see cref="EvaluateSuite"/> to stop evaluating (the cancel endpoint raises it).</summary>
    public const string CancelEvent = "Cancel";
    public const string EvaluateTaskChunk = "EvaluateTaskChunk";
    public const string PrepareRun = "PrepareRun";
    public const string EvaluateTask = "EvaluateTask";

    /// <summary>Queue dispatch: puts one task on the evaluation queue (the evaluator plane runs it).</summary>
    public const string DispatchTask = "DispatchTask";
    public const string ComputeFairness = "ComputeFairness";
    public const string MitigateDrafter = "MitigateDrafter";
    public const string PlanMitigation = "PlanMitigation";
    public const string PlanGating = "PlanGating";
    public const string FineTuneDrafter = "FineTuneDrafter";
    public const string SendMitigationPlan = "SendMitigationPlan";
    public const string CompareAndPromote = "CompareAndPromote";
}
