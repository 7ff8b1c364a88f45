namespace SpecFunctions.Core.Storage;

/// <summary>
/// Object names of the store. Every method validates its ids first, so callers cannot build a name from raw text.
/// <code>
/// runs/{runId}/manifest.json
/// runs/{runId}/created.json                (written once with the manifest, never again: its time orders the history)
/// runs/{runId}/tasks/{taskId}/trace.jsonl.gz
/// runs/{runId}/tasks/{taskId}/shards/{index:D5}-{attempt}.jsonl.gz  (a sharded task: one part per shard, written once)
/// runs/{runId}/report.json | report.html | tasks.csv
/// runs/{runId}/cancel-request.json         (present while a cancellation of the run is requested)
/// traces/by-key/{contentKey}.json            (content-key index → the run/task holding the committed trace)
/// models/{name}/{sha256}/{relative path}     (content-addressed drafter versions)
/// models/{name}/{sha256}/.specfn-files.json  (file list with hashes, written last: marks the version complete)
/// registry/suites.json                       (suites the nightly audit re-runs, with their run history)
/// </code>
/// </summary>
public static class TraceStoreLayout
{
    /// <summary>Default blob container name.</summary>
    public const string DefaultContainerName = "speculative-evals";

    public const string ModelFileListName = ".specfn-files.json";

    /// <summary>The suite registry of the nightly audit (<see cref="Evaluation.SuiteRegistry"/>).</summary>
    public const string SuiteRegistry = "registry/suites.json";

    public static string RunPrefix(string runId) => $"runs/{StoreIds.Validate(runId, "run")}/";

    public static string Manifest(string runId) => RunPrefix(runId) + "manifest.json";

    /// <summary>
    /// Written once, right after the run's manifest is created, and never overwritten: the listing's last-modified time
    /// of this object is the run's creation time (<see cref="RunListing"/>), while the manifest's changes with every update.
    /// </summary>
    public static string RunCreated(string runId) => RunPrefix(runId) + "created.json";

    public static string Trace(string runId, string taskId) =>
        RunPrefix(runId) + $"tasks/{StoreIds.Validate(taskId, "task")}/trace.jsonl.gz";

    /// <summary>
    /// One part of a sharded task's trace: shard <paramref name="index"/> as written by one attempt. Each attempt writes
    /// its own object, so a part the manifest records as committed is never overwritten by a late duplicate.
    /// </summary>
    public static string TraceShard(string runId, string taskId, int index, string attempt)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return TraceShards(runId, taskId) + $"{index:D5}-{StoreIds.Validate(attempt, "attempt")}.jsonl.gz";
    }

    /// <summary>The folder of a sharded task's parts (every <see cref="TraceShard"/> of the task is under it).</summary>
    public static string TraceShards(string runId, string taskId) => RunPrefix(runId) + $"tasks/{StoreIds.Validate(taskId, "task")}/shards/";

    public static string Artifact(string runId, RunArtifact artifact) => RunPrefix(runId) + artifact switch
    {
        RunArtifact.ReportJson => "report.json",
        RunArtifact.ReportHtml => "report.html",
        RunArtifact.TasksCsv => "tasks.csv",
        RunArtifact.MitigationPlan => "mitigation/plan.json",
        RunArtifact.PromotedDrafter => "mitigation/promoted-drafter.json",
        RunArtifact.CorrectiveData => "mitigation/corrective-data.jsonl.gz",
        RunArtifact.CancelRequest => "cancel-request.json",
        _ => throw new ArgumentOutOfRangeException(nameof(artifact), artifact, "unknown artifact"),
    };

    public static string ContentKeyIndex(string contentKey) =>
        $"traces/by-key/{StoreIds.ValidateSha256(contentKey, "contentKey")}.json";

    public static string ModelPrefix(string name, string sha256) =>
        $"models/{StoreIds.Validate(name, "model")}/{StoreIds.ValidateSha256(sha256, "sha256")}/";

    public static string ModelFile(string name, string sha256, string relativePath) =>
        ModelPrefix(name, sha256) + StoreIds.ValidateRelativeFilePath(relativePath);

    public static string ModelFileList(string name, string sha256) => ModelPrefix(name, sha256) + ModelFileListName;
}

/// <summary>Per-run files other than the manifest and traces.</summary>
public enum RunArtifact
{
    /// <summary><c>report.json</c> (<see cref="Reporting.EvaluationReport"/>).</summary>
    ReportJson,

    /// <summary><c>report.html</c>, self-contained.</summary>
    ReportHtml,

    /// <summary><c>tasks.csv</c>, invariant culture with a header row.</summary>
    TasksCsv,

    /// <summary><c>mitigation/plan.json</c>: task weights, data locations and base drafter handed to a trainer.</summary>
    MitigationPlan,

    /// <summary><c>mitigation/promoted-drafter.json</c>: the drafter version the mitigation promoted for this suite.</summary>
    PromotedDrafter,

    /// <summary><c>mitigation/corrective-data.jsonl.gz</c>: the soft labels (top-k + rest mass) the drafter was fine-tuned on.</summary>
    CorrectiveData,

    /// <summary><c>cancel-request.json</c>: present while the run's cancellation is requested (<see cref="RunCancellation"/>).</summary>
    CancelRequest,
}
