namespace SpecFunctions.Orchestration;

/// <summary>How evaluations run on this host (one section, bound at start-up).</summary>
public sealed class EvaluationOptions
{
    public const string SectionName = "Evaluation";

    /// <summary>Task evaluations this process runs at once (a GPU replica: 1). Others wait. Default 1.</summary>
    public int MaxConcurrentEvaluations { get; set; } = 1;

    /// <summary>Suites with more tasks fan out through <c>EvaluateTaskChunk</c> sub-orchestrations of this size. Default 16.</summary>
    public int ChunkSize { get; set; } = 16;

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
}

/// <summary>Per-prompt progress of running tasks, for hosts that show it live (the CLI); the default ignores it.</summary>
public interface IEvaluationObserver
{
    void TaskStarted(string runId, string taskId, int prompts);

    void PromptCompleted(string runId, string taskId, int completed, int total);

    void TaskCompleted(string runId, TaskSummary summary);
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
