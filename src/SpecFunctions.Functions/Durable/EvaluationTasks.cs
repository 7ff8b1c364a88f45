using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Durable;

/// <summary>
/// One-line <c>[Function]</c> wrappers around the orchestration library's plain Durable Task classes (class-based
/// triggers are not generated here: Microsoft.DurableTask.Generators is not available). Function names are the
/// <see cref="DurableNames"/>, which differ from the class names, so the analyzer does not see two tasks with one name.
/// </summary>
public static class EvaluationOrchestrations
{
    [Function(DurableNames.EvaluateSuite)]
    public static Task<EvaluationOutcome> EvaluateSuite([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new EvaluateSuiteOrchestrator().RunAsync(context, Input<EvaluationRequest>(context));

    [Function(DurableNames.EvaluateTaskChunk)]
    public static Task<IReadOnlyList<TaskSummary>> EvaluateTaskChunk([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new EvaluateTaskChunkOrchestrator().RunAsync(context, Input<TaskChunkInput>(context));

    [Function(DurableNames.MitigateDrafter)]
    public static Task<MitigationOutcome> MitigateDrafter([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new MitigateDrafterOrchestrator().RunAsync(context, Input<MitigationRequest>(context));

    private static T Input<T>(TaskOrchestrationContext context) =>
        context.GetInput<T>() ?? throw new InvalidOperationException($"orchestration {context.Name} of {context.InstanceId} has no {typeof(T).Name} input");
}

/// <summary>Mitigation activity wrappers (method.md §6); the activities come from DI (<c>AddSpecFunctionsEvaluation</c>).</summary>
public sealed class MitigationActivities(
    PlanMitigationActivity planMitigation,
    PlanGatingActivity planGating,
    FineTuneDrafterActivity fineTuneDrafter,
    SendMitigationPlanActivity sendMitigationPlan,
    CompareAndPromoteActivity compareAndPromote)
{
    [Function(DurableNames.PlanMitigation)]
    public Task<MitigationPlanOutcome> PlanMitigation([ActivityTrigger] MitigationRequest input, FunctionContext context) =>
        planMitigation.RunAsync(new FunctionActivityContext(DurableNames.PlanMitigation, context), input);

    [Function(DurableNames.PlanGating)]
    public Task<GatingPlan> PlanGating([ActivityTrigger] MitigationRequest request, FunctionContext context) =>
        planGating.RunAsync(new FunctionActivityContext(DurableNames.PlanGating, context), request);

    [Function(DurableNames.FineTuneDrafter)]
    public Task<NewDrafter> FineTuneDrafter([ActivityTrigger] MitigationRequest input, FunctionContext context) =>
        fineTuneDrafter.RunAsync(new FunctionActivityContext(DurableNames.FineTuneDrafter, context), input);

    [Function(DurableNames.SendMitigationPlan)]
    public Task<bool> SendMitigationPlan([ActivityTrigger] MitigationPlan input, FunctionContext context) =>
        sendMitigationPlan.RunAsync(new FunctionActivityContext(DurableNames.SendMitigationPlan, context), input);

    [Function(DurableNames.CompareAndPromote)]
    public Task<MitigationOutcome> CompareAndPromote([ActivityTrigger] CompareInput input, FunctionContext context) =>
        compareAndPromote.RunAsync(new FunctionActivityContext(DurableNames.CompareAndPromote, context), input);
}

/// <summary>Activity wrappers; the activities come from DI (<c>AddSpecFunctionsEvaluation</c>).</summary>
public sealed class EvaluationActivities(
    PrepareRunActivity prepareRun, EvaluateTaskActivity evaluateTask, ComputeFairnessActivity computeFairness, DispatchTaskActivity dispatchTask,
    SpecFunctions.Functions.Evaluator.GpuProbe gpu, Microsoft.Extensions.Logging.ILogger<EvaluationActivities> logger)
{
    [Function(DurableNames.PrepareRun)]
    public Task<PreparedRun> PrepareRun([ActivityTrigger] EvaluationRequest input, FunctionContext context) =>
        prepareRun.RunAsync(new FunctionActivityContext(DurableNames.PrepareRun, context), input);

    [Function(DurableNames.EvaluateTask)]
    public async Task<TaskSummary> EvaluateTask([ActivityTrigger] EvaluateTaskInput input, FunctionContext context)
    {
        // The probe runs once, before the first CUDA session: it loads the forward-compatibility driver when it is needed.
        _ = gpu.Gpu;
        return SpecFunctions.Functions.Evaluator.DeviceLog.Stamp(
            await evaluateTask.RunAsync(new FunctionActivityContext(DurableNames.EvaluateTask, context), input), gpu, logger, input.RunId);
    }

    [Function(DurableNames.DispatchTask)]
    public Task<TaskSummary?> DispatchTask([ActivityTrigger] QueuedTask input, FunctionContext context) =>
        dispatchTask.RunAsync(new FunctionActivityContext(DurableNames.DispatchTask, context), input);

    [Function(DurableNames.ComputeFairness)]
    public Task<FairnessOutcome> ComputeFairness([ActivityTrigger] FairnessInput input, FunctionContext context) =>
        computeFairness.RunAsync(new FunctionActivityContext(DurableNames.ComputeFairness, context), input);
}

/// <summary>The <see cref="TaskActivityContext"/> a class-based activity expects, built from the Functions invocation.</summary>
internal sealed class FunctionActivityContext(string name, FunctionContext context) : TaskActivityContext
{
    public override TaskName Name { get; } = new(name);

    // The Durable extension passes the orchestration instance id as binding data of an activity trigger.
    public override string InstanceId { get; } =
        context.BindingContext.BindingData.TryGetValue("instanceId", out var id) && id is not null ? id.ToString() ?? "" : "";
}
