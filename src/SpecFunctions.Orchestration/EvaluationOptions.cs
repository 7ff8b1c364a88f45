using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>How evaluations run on this host (one section, bound at start-up).</summary>
public sealed class EvaluationOptions
{
    public const string SectionName = "Evaluation";

    /// <summary>Task evaluations this process runs at once (a GPU replica: 1). Others wait. Default 1.</summary>
    public int MaxConcurrentEvaluations { get; set; } = 1;

    /// <summary>Suites with more tasks fan out through <c>EvaluateTaskChunk</c> sub-orchestrations of this size. Default 16.</summary>
    public int ChunkSize { get; set; } = 16;

    /// <summary>
    /// Prompts per shard when a run's settings name none (<c>settings.promptsPerShard</c>): a task with more prompts runs as
    /// several <c>EvaluateTask</c> activities, each committing its own trace part. Each activity costs about 0.24 s of
    /// orchestration on the embedded engine (docs/scale.md), so shards should hold minutes of work, not seconds. Read by
    /// <c>PrepareRun</c> and recorded in the run's history. Default <see cref="DefaultPromptsPerShard"/>.
    /// </summary>
    public int PromptsPerShard { get; set; } = DefaultPromptsPerShard;

    /// <summary>Default of <see cref="PromptsPerShard"/>: 64, so the demo suites (20 prompts a task) and other small suites run one shard per task.</summary>
    public const int DefaultPromptsPerShard = 64;

    /// <summary>Attempts per task evaluation (first try included). Default 3.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>First retry delay in seconds, doubled on each retry. Default 1.</summary>
    public double FirstRetrySeconds { get; set; } = 1;

    /// <summary>Where stored model versions (mitigated drafters) are downloaded to. Default: a folder under the system temp.</summary>
    public string ModelCacheFolder { get; set; } = Path.Combine(Path.GetTempPath(), "specfn-model-cache");

    /// <summary>Bootstrap resamples for every confidence interval. Default 1000.</summary>
    public int BootstrapResamples { get; set; } = 1000;

    /// <summary>How often a running task evaluation checks whether its run was cancelled, in seconds. Default 2.</summary>
    public double CancellationPollSeconds { get; set; } = 2;

    /// <summary>
    /// Tokens of the warm-up generation run once per model pair and process before the first timed task (0: none), so
    /// the first task's measured speed-up does not include ONNX Runtime's first-call and JIT costs. Default 16.
    /// </summary>
    public int WarmUpTokens { get; set; } = 16;

    /// <summary>
    /// Where task evaluations run: <see cref="TaskDispatchMode.InProcess"/> (an activity in this app; the CLI and a
    /// single-app deployment) or <see cref="TaskDispatchMode.Queue"/> (one message per task on the evaluation queue, run
    /// by the evaluator plane, completion reported back through the completion queue). Read by <c>PrepareRun</c> and
    /// recorded in the run's history, so a setting changed mid-run does not change a running orchestration. Default InProcess.
    /// </summary>
    public TaskDispatchMode Dispatch { get; set; } = TaskDispatchMode.InProcess;

    /// <summary>
    /// Queue dispatch: seconds the orchestration waits for a task's completion before it puts the task on the queue again
    /// (a durable timer; a lost message or an evaluator that died mid-task). Must cover a cold start plus the longest
    /// task. Default 1800.
    /// </summary>
    public double DispatchTimeoutSeconds { get; set; } = 1800;

    /// <summary>Queue dispatch: messages sent per task (the first included) before the task is reported failed. Default 3.</summary>
    public int MaxDispatches { get; set; } = 3;
}

/// <summary>Where task evaluations run (<see cref="EvaluationOptions.Dispatch"/>).</summary>
public enum TaskDispatchMode
{
    /// <summary>The <c>EvaluateTask</c> activity, in the process that runs the orchestration.</summary>
    InProcess,

    /// <summary>The evaluation queue: a separate evaluator plane runs the task and reports back.</summary>
    Queue,
}

/// <summary>Per-prompt progress of running tasks, for hosts that show it live (the CLI); the default ignores it.</summary>
public interface IEvaluationObserver
{
    void TaskStarted(string runId, string taskId, int prompts);

    void PromptCompleted(string runId, string taskId, int completed, int total);

    void TaskCompleted(string runId, TaskSummary summary);

    /// <summary>A shard of a sharded task started (its summary comes to <see cref="TaskCompleted"/> with <see cref="TaskSummary.Shard"/> set).</summary>
    void ShardStarted(string runId, string taskId, ShardRange shard) => TaskStarted(runId, taskId, shard.Prompts);

    /// <summary><paramref name="completed"/> of a shard's prompts are done.</summary>
    void ShardPromptCompleted(string runId, string taskId, ShardRange shard, int completed) => PromptCompleted(runId, taskId, completed, shard.Prompts);
}

public sealed class NullEvaluationObserver : IEvaluationObserver
{
    public void TaskStarted(string runId, string taskId, int prompts)
    {
    }

    public void PromptCompleted(string runId, string taskId, int completed, int total)
    {
    }

    public void TaskCompleted(string runId, TaskSummary summary)
    {
    }
}
