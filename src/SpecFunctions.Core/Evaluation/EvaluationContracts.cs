using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;

namespace SpecFunctions.Core.Evaluation;

/// <summary>A suite: tasks (languages, domains), each a set of prompts that belong together.</summary>
public sealed record SuiteDefinition
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>The tasks; empty in a submission that names a <see cref="Source"/> until <c>PrepareRun</c> reads it.</summary>
    [JsonPropertyName("tasks")]
    public required IReadOnlyList<SuiteTask> Tasks { get; init; }

    /// <summary>Where the prompts live when they are not inline (a suite by reference); null for an inline suite.</summary>
    [JsonPropertyName("source")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SuiteSource? Source { get; init; }
}

/// <summary>One task of a suite. Ids follow <see cref="Storage.StoreIds.Pattern"/>.</summary>
public sealed record SuiteTask
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("prompts")]
    public required IReadOnlyList<string> Prompts { get; init; }

    /// <summary>
    /// Training prompts for mitigation (corrective data), disjoint from <see cref="Prompts"/>. Optional for an evaluation;
    /// a mitigation is refused when a task has none (corrective data never comes from evaluation prompts).
    /// </summary>
    [JsonPropertyName("trainingPrompts")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? TrainingPrompts { get; init; }

    /// <summary>
    /// This task's draft length, overriding <see cref="EvaluationSettings.Gamma"/>; 0 = plain decoding (no drafter in the
    /// timed run: speculation does not pay on this task). Null: the run's γ. Set per task by the <c>gating</c> mitigation.
    /// </summary>
    [JsonPropertyName("gamma")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Gamma { get; init; }
}

/// <summary>Decoding settings of an evaluation.</summary>
public sealed record EvaluationSettings
{
    /// <summary>Draft length γ, 1..64. Default 4.</summary>
    [JsonPropertyName("gamma")]
    public int Gamma { get; init; } = 4;

    /// <summary>Sampling temperature, ≥ 0 (0 = greedy). Default 0.</summary>
    [JsonPropertyName("temperature")]
    public double Temperature { get; init; }

    /// <summary>Top-k, 0 disables. Default 0.</summary>
    [JsonPropertyName("topK")]
    public int TopK { get; init; }

    /// <summary>Top-p in (0, 1]. Default 1.</summary>
    [JsonPropertyName("topP")]
    public double TopP { get; init; } = 1.0;

    /// <summary>Token budget per prompt. Default 64.</summary>
    [JsonPropertyName("maxNewTokens")]
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>Sampler seed. Default 1.</summary>
    [JsonPropertyName("seed")]
    public long Seed { get; init; } = 1;

    /// <summary>
    /// Generate exactly <see cref="MaxNewTokens"/> per prompt, ignoring the verifier's end-of-sequence tokens (serving
    /// benchmarks' "ignore EOS"). Both runs then do the same amount of work per prompt, so measured speed-ups do not
    /// depend on how many prompts happened to end early. Default false: a generation ends at its first EOS token.
    /// </summary>
    [JsonPropertyName("ignoreEos")]
    public bool IgnoreEos { get; init; }

    /// <summary>
    /// Timed repeats per prompt of each arm (speculative and baseline, interleaved); each arm keeps its fastest repeat
    /// (method.md §5). Part of the content key. 1..<see cref="EvaluationLimits.MaxRepeats"/>; default <see cref="DefaultRepeats"/>.
    /// </summary>
    [JsonPropertyName("repeats")]
    public int Repeats { get; init; } = DefaultRepeats;

    public const int DefaultRepeats = 2;

    /// <summary>
    /// Prompts per shard: a task with more prompts runs as several activities, each committing its own trace part, and
    /// a run resumed after a kill re-runs only its unfinished shards. Not part of the content key: the report is the
    /// same however a task is sharded. 1..<see cref="EvaluationLimits.MaxPromptsPerShard"/>; null: the host's default
    /// (<c>Evaluation:PromptsPerShard</c>, 64).
    /// </summary>
    [JsonPropertyName("promptsPerShard")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? PromptsPerShard { get; init; }
}

/// <summary>When the evaluation starts a mitigation (method.md §6).</summary>
public sealed record MitigationPolicy
{
    /// <summary>Mitigate when U (nats²) exceeds this. Default 0.05.</summary>
    [JsonPropertyName("unfairnessThreshold")]
    public double UnfairnessThreshold { get; init; } = 0.05;

    /// <summary>Mitigate when 1 − min S_T / max S_T exceeds this. Default 0.25.</summary>
    [JsonPropertyName("speedupGapThreshold")]
    public double SpeedupGapThreshold { get; init; } = 0.25;

    /// <summary>Start the mitigation when the thresholds are passed (false: record the decision only). Default false.</summary>
    [JsonPropertyName("autoMitigate")]
    public bool AutoMitigate { get; init; }

    /// <summary>Mitigation strategy: <c>s-cdf</c> (default), <c>balanced</c>, <c>temperature</c> or <c>none</c>.</summary>
    [JsonPropertyName("strategy")]
    public string Strategy { get; init; } = Mitigation.MitigationStrategies.SCdf;

    /// <summary>
    /// How much slower any one task may get: a result is promoted only when, for every task, the paired 95 % interval of
    /// measured speed-up after / before has its lower end at or above 1 − margin (method.md §6 step 5). Default 0.05.
    /// </summary>
    [JsonPropertyName("speedupMargin")]
    public double SpeedupMargin { get; init; } = 0.05;
}

/// <summary>A validated evaluation submission: the input of the <c>EvaluateSuite</c> orchestration.</summary>
public sealed record EvaluationRequest
{
    [JsonPropertyName("runId")]
    public required string RunId { get; init; }

    [JsonPropertyName("suite")]
    public required SuiteDefinition Suite { get; init; }

    /// <summary>Verifier model reference (a name the model catalog resolves, e.g. <c>demo-verifier</c>).</summary>
    [JsonPropertyName("verifier")]
    public required string Verifier { get; init; }

    /// <summary>Drafter model reference (e.g. <c>demo-drafter</c>).</summary>
    [JsonPropertyName("drafter")]
    public required string Drafter { get; init; }

    [JsonPropertyName("settings")]
    public EvaluationSettings Settings { get; init; } = new();

    [JsonPropertyName("mitigation")]
    public MitigationPolicy Mitigation { get; init; } = new();

    /// <summary>
    /// Measure every task in this run, never serving its timings from another run's committed trace with the same content
    /// key (traces this run wrote itself are still reused when a task is retried). Set by the nightly audit, whose point
    /// is a fresh measurement; not a field of the HTTP submission. Default false.
    /// </summary>
    [JsonPropertyName("measureAfresh")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool MeasureAfresh { get; init; }

    /// <summary>
    /// The estimate made for this run before it started (<c>POST /api/evaluations?estimate=true</c>, <c>specfn run
    /// --estimate</c>); kept in the manifest's submission so that the report can set it against the actual run. Not a
    /// field of the HTTP body. Null: no prediction.
    /// </summary>
    [JsonPropertyName("prediction")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Estimation.RunPrediction? Prediction { get; init; }
}

/// <summary>
/// Limits on what one evaluation may ask for, shared by the HTTP API (section <see cref="SectionName"/>) and the CLI
/// (its option ranges and suite files use the defaults), so that both accept the same evaluations. Every limit is at least 1.
/// </summary>
public sealed record EvaluationLimits
{
    public const string SectionName = "Evaluation:Limits";

    // The message of a limit below 1, naming the setting ({0}: the property, {1}: the minimum).
    private const string AtLeastOne = SectionName + ":{0} must be at least {1}";

    /// <summary>Largest HTTP body, suite file or prompts file, bytes. Default 1 MiB.</summary>
    [Range(1, int.MaxValue, ErrorMessage = AtLeastOne)]
    public int MaxBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>Most tasks in a suite. Default 64.</summary>
    [Range(1, int.MaxValue, ErrorMessage = AtLeastOne)]
    public int MaxTasks { get; init; } = 64;

    /// <summary>Most prompts (or training prompts) per task. Default 256.</summary>
    [Range(1, int.MaxValue, ErrorMessage = AtLeastOne)]
    public int MaxPromptsPerTask { get; init; } = 256;

    /// <summary>Most tasks of a suite by reference (<see cref="SuiteSource"/>). Default 128.</summary>
    [Range(1, int.MaxValue, ErrorMessage = AtLeastOne)]
    public int MaxReferencedTasks { get; init; } = 128;

    /// <summary>Most prompts (or training prompts) per task of a suite by reference. Default 2048.</summary>
    [Range(1, int.MaxValue, ErrorMessage = AtLeastOne)]
    public int MaxReferencedPromptsPerTask { get; init; } = 2048;

    /// <summary>Largest blob of a suite by reference, bytes; it is read as a stream, never whole. Default 64 MiB.</summary>
    [Range(typeof(long), "1", "9223372036854775807", ErrorMessage = AtLeastOne)]
    public long MaxReferencedBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Longest prompt, UTF-16 characters. Default 4096.</summary>
    [Range(1, int.MaxValue, ErrorMessage = AtLeastOne)]
    public int MaxPromptChars { get; init; } = 4096;

    /// <summary>Largest token budget per prompt (<c>maxNewTokens</c>, <c>--max-new-tokens</c>). Default 1024.</summary>
    [Range(1, int.MaxValue, ErrorMessage = AtLeastOne)]
    public int MaxNewTokens { get; init; } = 1024;

    /// <summary>Most timed repeats per prompt (<c>repeats</c>, <c>--repeats</c>). Default 10.</summary>
    [Range(1, int.MaxValue, ErrorMessage = AtLeastOne)]
    public int MaxRepeats { get; init; } = 10;

    /// <summary>Largest <c>promptsPerShard</c> (<c>--prompts-per-shard</c>). Default 100 000.</summary>
    [Range(1, int.MaxValue, ErrorMessage = AtLeastOne)]
    public int MaxPromptsPerShard { get; init; } = 100_000;

    /// <summary>Largest draft length γ: the engine's bound (<see cref="Decoding.DecodingOptions.MaxGamma"/>), not configurable.</summary>
    public int MaxGamma => Decoding.DecodingOptions.MaxGamma;
}
