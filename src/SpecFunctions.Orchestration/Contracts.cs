using System.Text.Json.Serialization;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>What <c>PrepareRun</c> resolved: model identities and the run's manifest is written.</summary>
public sealed record PreparedRun
{
    public required string RunId { get; init; }
    public required ModelIdentity Drafter { get; init; }
    public required ModelIdentity Verifier { get; init; }

    /// <summary>How this run's tasks are dispatched (null: in process). Recorded here so replays see the same choice.</summary>
    public QueueDispatch? Dispatch { get; init; }
}

/// <summary>Input of one <c>EvaluateTask</c> activity.</summary>
public sealed record EvaluateTaskInput
{
    public required string RunId { get; init; }
    public required string TaskId { get; init; }
    public required IReadOnlyList<string> Prompts { get; init; }
    public required string Drafter { get; init; }
    public required string Verifier { get; init; }
    public required EvaluationSettings Settings { get; init; }

    /// <summary>The task's own draft length (<see cref="SuiteTask.Gamma"/>; 0 = plain decoding); null: <see cref="EvaluationSettings.Gamma"/>.</summary>
    public int? Gamma { get; init; }

    /// <summary>Reuse a committed trace of another run with the same content key (false for audits). Default true.</summary>
    public bool ReuseAcrossRuns { get; init; } = true;
}

/// <summary>Input of an <c>EvaluateTaskChunk</c> sub-orchestration (large suites fan out through these).</summary>
public sealed record TaskChunkInput
{
    public required IReadOnlyList<EvaluateTaskInput> Tasks { get; init; }

    /// <summary>The run's queue dispatch (null: in process).</summary>
    public QueueDispatch? Dispatch { get; init; }
}

/// <summary>Task states a summary reports.</summary>
public static class TaskOutcomes
{
    public const string Committed = "committed";
    public const string Reused = "reused";
    public const string Failed = "failed";

    /// <summary>The run was cancelled before the task started or while it ran; nothing was committed.</summary>
    public const string Cancelled = "cancelled";
}

/// <summary>What one task's evaluation produced (the activity's output).</summary>
public sealed record TaskSummary
{
    public required string TaskId { get; init; }

    /// <summary><see cref="TaskOutcomes"/>: committed, reused, failed or cancelled.</summary>
    public required string Status { get; init; }

    public string? Error { get; init; }
    public int Prompts { get; init; }
    public int Steps { get; init; }
    public int GeneratedTokens { get; init; }

    /// <summary>α_T of the fresh trace (null when reused or failed).</summary>
    public double? Alpha { get; init; }
    public double? AcceptanceRate { get; init; }
    public double? CrossEntropy { get; init; }

    /// <summary>Generated tokens per second of speculative decoding.</summary>
    public double? TokensPerSecond { get; init; }

    /// <summary>Wall-clock span of the activity (for fan-out overlap measurements).</summary>
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public string? ExecutionProvider { get; init; }

    /// <summary>Where the evaluation ran: requested device, execution provider, GPU and driver (the Functions app fills it).</summary>
    public DeviceReport? Device { get; init; }
}

/// <summary>
/// The device a task evaluation ran on, as the evaluating process saw it: the device the deployment asked for
/// (<c>SPECFN_DEVICE</c> / <c>Onnx:Device</c>), the execution provider ONNX Runtime actually used, and the NVIDIA GPU
/// and driver visible to the process (from NVML; null when there is none).
/// </summary>
public sealed record DeviceReport
{
    /// <summary>cpu | cuda.</summary>
    public required string Requested { get; init; }

    /// <summary>CPUExecutionProvider | CUDAExecutionProvider.</summary>
    public required string ExecutionProvider { get; init; }

    public string? GpuName { get; init; }
    public string? DriverVersion { get; init; }

    /// <summary>The newest CUDA version the driver supports, e.g. "12.4".</summary>
    public string? DriverCudaVersion { get; init; }

    /// <summary>Why a GPU was not used, or what is wrong with the one there (e.g. a driver too old for the CUDA libraries).</summary>
    public string? Note { get; init; }

    /// <summary>A GPU was asked for and the CPU did the work: measured at GPU prices, timed at CPU speed.</summary>
    public bool FellBackToCpu => Requested == "cuda" && ExecutionProvider != "CUDAExecutionProvider";
}

/// <summary>Input of <c>ComputeFairness</c>.</summary>
public sealed record FairnessInput
{
    public required string RunId { get; init; }
    public required IReadOnlyList<TaskSummary> Tasks { get; init; }
    public required MitigationPolicy Policy { get; init; }

    /// <summary>A device warning for the report (<see cref="EvaluationOutcome.DeviceWarning"/>), or null.</summary>
    public string? DeviceWarning { get; init; }
}

/// <summary>The fairness result and the mitigation decision.</summary>
public sealed record FairnessOutcome
{
    public double? Unfairness { get; init; }
    public double? MeanSpeedup { get; init; }
    public double? MinMaxSpeedupRatio { get; init; }
    public string? WorstTask { get; init; }

    /// <summary>mitigate | none | not-evaluated.</summary>
    public required string Decision { get; init; }
    public required string Reason { get; init; }
    public bool ReportWritten { get; init; }
    public string? Error { get; init; }

    /// <summary>
    /// Tasks the evaluation reported committed (or reused) whose trace was gone when fairness was computed: task id →
    /// error. They are marked failed in the manifest and listed as incomplete in the report; U covers the others.
    /// </summary>
    public IReadOnlyDictionary<string, string> LostTasks { get; init; } = new Dictionary<string, string>();
}

/// <summary>Output of <c>EvaluateSuite</c>.</summary>
public sealed record EvaluationOutcome
{
    public required string RunId { get; init; }
    public required IReadOnlyList<TaskSummary> Tasks { get; init; }
    public required FairnessOutcome Fairness { get; init; }

    /// <summary>The mitigation's outcome when one ran (decision "mitigate" with autoMitigate on).</summary>
    public MitigationOutcome? Mitigation { get; init; }

    /// <summary>True when the run was cancelled: tasks not evaluated are <see cref="TaskOutcomes.Cancelled"/>, no mitigation ran.</summary>
    public bool Cancelled { get; init; }

    /// <summary>Set when a GPU was requested and some task ran on the CPU (<see cref="DeviceReport.FellBackToCpu"/>): which tasks, and why.</summary>
    public string? DeviceWarning { get; init; }

    [JsonIgnore]
    public int FailedTasks => Tasks.Count(t => t.Status == TaskOutcomes.Failed);
}

/// <summary>The run-level device warning: a GPU was requested and some tasks ran on the CPU.</summary>
public static class DeviceWarnings
{
    /// <summary>One sentence naming the tasks that fell back and why, or null when none did.</summary>
    public static string? For(IEnumerable<TaskSummary> tasks)
    {
        var fell = tasks.Where(t => t.Device?.FellBackToCpu == true).ToList();
        if (fell.Count == 0)
        {
            return null;
        }

        var notes = fell.Select(t => t.Device!.Note).Where(n => !string.IsNullOrWhiteSpace(n)).Distinct(StringComparer.Ordinal).ToList();
        var why = notes.Count > 0 ? string.Join("; ", notes) : "ONNX Runtime could not load its CUDA execution provider";
        return $"GPU requested but the CPU ran {fell.Count} task(s) ({string.Join(", ", fell.Select(t => t.TaskId))}); their speed-ups are CPU speed-ups: {why}";
    }
}
