using Microsoft.DurableTask;

namespace SpecFunctions.Orchestration;

/// <summary>Evaluates one chunk of a large suite: one activity per task, all at once.</summary>
public sealed class EvaluateTaskChunkOrchestrator : TaskOrchestrator<TaskChunkInput, IReadOnlyList<TaskSummary>>
{
    public override async Task<IReadOnlyList<TaskSummary>> RunAsync(TaskOrchestrationContext context, TaskChunkInput input)
    {
        var results = await Task.WhenAll(input.Tasks.Select(t => TaskEvaluation.RunAsync(context, t, input.Dispatch))).ConfigureAwait(true);
        return results;
    }
}
