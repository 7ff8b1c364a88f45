using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DurableTask;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>
/// Resolves the models, records their SHA-256 identities and writes the run manifest (idempotent); decides the run's
/// prompts per shard and the content keys of the tasks that run sharded.
/// </summary>
public sealed class PrepareRunActivity(ITraceStore store, ModelCache models, IOptions<EvaluationOptions> options) : TaskActivity<EvaluationRequest, PreparedRun>
{
    public override async Task<PreparedRun> RunAsync(TaskActivityContext context, EvaluationRequest request)
    {
        var (drafter, drafterId, verifier, verifierId) = models.GetPair(request.Drafter, request.Verifier);
        _ = drafter;
        var decoding = EvaluationDefaults.ToDecodingOptions(request.Settings, verifier);
        var manifest = new RunManifest
        {
            RunId = request.RunId,
            CreatedAt = DateTimeOffset.UtcNow,
            Submission = JsonSerializer.SerializeToNode(request, EvaluationDefaults.Json) as JsonObject,
            Drafter = drafterId,
            Verifier = verifierId,
            Settings = RunSettings.From(decoding, baseline: true, request.Settings.Repeats),
        };
        foreach (var task in request.Suite.Tasks)
        {
            manifest = manifest.WithTask(new TaskEntry { TaskId = task.Id, Status = TaskState.Pending, Prompts = task.Prompts.Count, Gamma = task.Gamma });
        }

        await store.CreateRunAsync(manifest).ConfigureAwait(false);
        var promptsPerShard = request.Settings.PromptsPerShard ?? options.Value.PromptsPerShard;
        if (promptsPerShard < 1)
        {
            throw new InvalidOperationException($"Evaluation:PromptsPerShard must be ≥ 1 (is {promptsPerShard})");
        }

        var shardedKeys = request.Suite.Tasks
            .Where(t => t.Prompts.Count > promptsPerShard)
            .ToDictionary(t => t.Id, t => EvaluationDefaults.TaskContentKey(drafterId, verifierId, verifier, request.Settings, t.Gamma, t.Prompts), StringComparer.Ordinal);
        return new PreparedRun
        {
            RunId = request.RunId,
            Drafter = drafterId,
            Verifier = verifierId,
            Dispatch = QueueDispatch.From(options.Value),
            PromptsPerShard = promptsPerShard,
            ShardedTaskKeys = shardedKeys,
        };
    }
}
