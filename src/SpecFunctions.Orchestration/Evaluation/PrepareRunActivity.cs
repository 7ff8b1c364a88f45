using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DurableTask;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>
/// Reads and validates a suite by reference (before anything else: a bad line fails the run before any evaluation and
/// before the manifest is written), resolves the models, records their SHA-256 identities and writes the run manifest
/// (idempotent); decides the run's prompts per shard and the content keys of the tasks that run sharded.
/// </summary>
public sealed class PrepareRunActivity(ITraceStore store, ModelCache models, IOptions<EvaluationOptions> options, IOptions<EvaluationLimits> limits)
    : TaskActivity<EvaluationRequest, PreparedRun>
{
    public override async Task<PreparedRun> RunAsync(TaskActivityContext context, EvaluationRequest request)
    {
        var suite = request.Suite.Source is { } source
            ? await store.ReadSuiteSourceAsync(request.Suite.Name, source, limits.Value).ConfigureAwait(false)
            : request.Suite;
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
        foreach (var task in suite.Tasks)
        {
            manifest = manifest.WithTask(new TaskEntry { TaskId = task.Id, Status = TaskState.Pending, Prompts = task.Prompts.Count, Gamma = task.Gamma });
        }

        await store.CreateRunAsync(manifest).ConfigureAwait(false);
        var promptsPerShard = request.Settings.PromptsPerShard ?? options.Value.PromptsPerShard;
        if (promptsPerShard < 1)
        {
            throw new InvalidOperationException($"Evaluation:PromptsPerShard must be ≥ 1 (is {promptsPerShard})");
        }

        var shardedKeys = suite.Tasks
            .Where(t => t.Prompts.Count > promptsPerShard)
            .ToDictionary(t => t.Id, t => EvaluationDefaults.TaskContentKey(drafterId, verifierId, verifier, request.Settings, t.Gamma, t.Prompts), StringComparer.Ordinal);

        // The suite read here is inline from now on (without its source): a mitigation's re-evaluation of it, with the
        // tasks' own γ, must not read the blob again and lose them.
        return new PreparedRun
        {
            RunId = request.RunId,
            Drafter = drafterId,
            Verifier = verifierId,
            Dispatch = QueueDispatch.From(options.Value),
            PromptsPerShard = promptsPerShard,
            ShardedTaskKeys = shardedKeys,
            Suite = request.Suite.Source is null ? null : suite with { Source = null },
        };
    }
}
