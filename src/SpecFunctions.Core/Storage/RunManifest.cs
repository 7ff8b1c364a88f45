using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Sampling;

namespace SpecFunctions.Core.Storage;

/// <summary>
/// <c>runs/{runId}/manifest.json</c>: what was evaluated and the state of each task. Updated only by
/// compare-and-swap (<see cref="ITraceStore.UpdateManifestAsync"/>), so concurrent task completions never overwrite each other.
/// </summary>
public sealed record RunManifest
{
    public const int CurrentSchemaVersion = 1;

    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    [JsonPropertyName("runId")]
    public required string RunId { get; init; }

    /// <summary>When the run was created (UTC).</summary>
    [JsonPropertyName("createdAt")]
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The submission as received (CLI arguments or HTTP body), kept verbatim for provenance; null when none.</summary>
    [JsonPropertyName("submission")]
    public JsonObject? Submission { get; init; }

    [JsonPropertyName("drafter")]
    public required ModelIdentity Drafter { get; init; }

    [JsonPropertyName("verifier")]
    public required ModelIdentity Verifier { get; init; }

    [JsonPropertyName("settings")]
    public required RunSettings Settings { get; init; }

    /// <summary>Per-task state, keyed by task id.</summary>
    [JsonPropertyName("tasks")]
    public IReadOnlyDictionary<string, TaskEntry> Tasks { get; init; } = new SortedDictionary<string, TaskEntry>(StringComparer.Ordinal);

    public RunManifest WithTask(TaskEntry entry)
    {
        var tasks = new SortedDictionary<string, TaskEntry>(Tasks.ToDictionary(), StringComparer.Ordinal)
        {
            [entry.TaskId] = entry,
        };
        return this with { Tasks = tasks };
    }

    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}

/// <summary>A model by name and the SHA-256 of its folder (<see cref="ModelFolderHash"/>).</summary>
public sealed record ModelIdentity
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>SHA-256 of the model folder, 64 lower-case hex digits.</summary>
    [JsonPropertyName("sha256")]
    public required string Sha256 { get; init; }

    [JsonPropertyName("family")]
    public string? Family { get; init; }
}

/// <summary>Decoding settings shared by every task of a run; part of each task's content key.</summary>
public sealed record RunSettings
{
    /// <summary>Draft length γ.</summary>
    [JsonPropertyName("gamma")]
    public required int Gamma { get; init; }

    [JsonPropertyName("sampling")]
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Default;

    /// <summary>Token budget per prompt.</summary>
    [JsonPropertyName("maxNewTokens")]
    public required int MaxNewTokens { get; init; }

    /// <summary>Step limit per prompt; null = none.</summary>
    [JsonPropertyName("maxSteps")]
    public int? MaxSteps { get; init; }

    /// <summary>Random seed of the run (sampling mode).</summary>
    [JsonPropertyName("seed")]
    public long Seed { get; init; } = 1;

    /// <summary>Tokens that end a generation.</summary>
    [JsonPropertyName("stopTokens")]
    public int[] StopTokens { get; init; } = [];

    /// <summary>Whether an autoregressive baseline runs per prompt (needed for the measured speed-up and c).</summary>
    [JsonPropertyName("baseline")]
    public bool Baseline { get; init; } = true;

    /// <summary>Timed repeats per prompt and arm (each arm keeps its fastest); 1 in traces written before the protocol had repeats.</summary>
    [JsonPropertyName("repeats")]
    public int Repeats { get; init; } = 1;

    /// <summary>Settings added by later versions; part of the content key as well.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }

    public static RunSettings From(DecodingOptions options, bool baseline, int repeats = 1) => new()
    {
        Repeats = repeats,
        Gamma = options.Gamma,
        Sampling = options.Sampling,
        MaxNewTokens = options.MaxNewTokens,
        MaxSteps = options.MaxSteps,
        Seed = options.Seed,
        StopTokens = [.. options.StopTokens.Order()],
        Baseline = baseline,
    };

    public DecodingOptions ToDecodingOptions() => new()
    {
        Gamma = Gamma,
        Sampling = Sampling,
        MaxNewTokens = MaxNewTokens,
        MaxSteps = MaxSteps,
        Seed = Seed,
        StopTokens = StopTokens,
    };
}

[JsonConverter(typeof(JsonStringEnumConverter<TaskState>))]
public enum TaskState
{
    /// <summary>Registered, not started.</summary>
    Pending,

    /// <summary>Its trace is being written.</summary>
    Running,

    /// <summary>Trace written and committed in this run.</summary>
    Committed,

    /// <summary>An identical committed trace (same content key) from another run or task is reused.</summary>
    Reused,

    Failed,

    /// <summary>Not evaluated, or stopped between prompts, because the run was cancelled; no trace is published.</summary>
    Cancelled,
}

/// <summary>One task's state in the manifest.</summary>
public sealed record TaskEntry
{
    [JsonPropertyName("taskId")]
    public required string TaskId { get; init; }

    [JsonPropertyName("status")]
    public TaskState Status { get; init; }

    /// <summary>SHA-256 of model hashes + prompts + settings (<see cref="ContentKey"/>); null until known.</summary>
    [JsonPropertyName("contentKey")]
    public string? ContentKey { get; init; }

    [JsonPropertyName("prompts")]
    public int Prompts { get; init; }

    /// <summary>The task's own draft length when it differs from the run's (0 = plain decoding); null: the run's γ.</summary>
    [JsonPropertyName("gamma")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Gamma { get; init; }

    /// <summary>Where the committed trace lives: this run/task, or the run/task it is reused from.</summary>
    [JsonPropertyName("trace")]
    public TraceLocation? Trace { get; init; }

    /// <summary>Records in the trace (steps + prompt summaries).</summary>
    [JsonPropertyName("records")]
    public long Records { get; init; }

    [JsonPropertyName("steps")]
    public long Steps { get; init; }

    /// <summary>Size of <c>trace.jsonl.gz</c>, bytes.</summary>
    [JsonPropertyName("compressedBytes")]
    public long CompressedBytes { get; init; }

    /// <summary>Size of the uncompressed JSON lines, bytes.</summary>
    [JsonPropertyName("uncompressedBytes")]
    public long UncompressedBytes { get; init; }

    [JsonPropertyName("updatedAt")]
    public DateTimeOffset UpdatedAt { get; init; }

    [JsonPropertyName("error")]
    public string? Error { get; init; }

    /// <summary>Shards the task's prompts are split into when it runs sharded (null: one trace, no shards).</summary>
    [JsonPropertyName("shardCount")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? ShardCount { get; init; }

    /// <summary>The committed shards of a sharded task, by index; each is committed once and never replaced.</summary>
    [JsonPropertyName("shards")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<ShardEntry>? Shards { get; init; }

    [JsonIgnore]
    public bool HasCommittedTrace => Status is TaskState.Committed or TaskState.Reused && Trace is not null;
}

/// <summary>The run and task whose committed <c>trace.jsonl.gz</c> holds a task's records.</summary>
public sealed record TraceLocation
{
    [JsonPropertyName("runId")]
    public required string RunId { get; init; }

    [JsonPropertyName("taskId")]
    public required string TaskId { get; init; }

    /// <summary>
    /// Parts of a sharded trace (<see cref="TaskEntry.Shards"/> of that run/task, read in shard order as one trace); null:
    /// one <c>trace.jsonl.gz</c>.
    /// </summary>
    [JsonPropertyName("parts")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Parts { get; init; }
}

/// <summary>Which of a task's prompts one shard holds (an <c>EvaluateTask</c> activity's share of a sharded task).</summary>
public sealed record ShardRange
{
    /// <summary>0-based shard index.</summary>
    [JsonPropertyName("index")]
    public required int Index { get; init; }

    /// <summary>Shards of the task.</summary>
    [JsonPropertyName("count")]
    public required int Count { get; init; }

    /// <summary>Index in the task of the shard's first prompt.</summary>
    [JsonPropertyName("firstPrompt")]
    public required int FirstPrompt { get; init; }

    /// <summary>Prompts in this shard.</summary>
    [JsonPropertyName("prompts")]
    public required int Prompts { get; init; }

    /// <summary>Prompts in the whole task.</summary>
    [JsonPropertyName("taskPrompts")]
    public required int TaskPrompts { get; init; }

    /// <summary>Splits <paramref name="prompts"/> prompts into shards of at most <paramref name="promptsPerShard"/>, sizes as even as possible.</summary>
    public static IReadOnlyList<ShardRange> Split(int prompts, int promptsPerShard)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(prompts);
        ArgumentOutOfRangeException.ThrowIfLessThan(promptsPerShard, 1);
        var count = Math.Max(1, (prompts + promptsPerShard - 1) / promptsPerShard);
        var shards = new ShardRange[count];
        var first = 0;
        for (var i = 0; i < count; i++)
        {
            var size = (prompts / count) + (i < prompts % count ? 1 : 0);
            shards[i] = new ShardRange { Index = i, Count = count, FirstPrompt = first, Prompts = size, TaskPrompts = prompts };
            first += size;
        }

        return shards;
    }
}

/// <summary>One committed shard of a sharded task: which prompts, which object, and its size.</summary>
public sealed record ShardEntry
{
    [JsonPropertyName("index")]
    public required int Index { get; init; }

    [JsonPropertyName("firstPrompt")]
    public int FirstPrompt { get; init; }

    [JsonPropertyName("prompts")]
    public int Prompts { get; init; }

    /// <summary>The attempt that wrote the committed part (<see cref="TraceStoreLayout.TraceShard"/>).</summary>
    [JsonPropertyName("attempt")]
    public required string Attempt { get; init; }

    [JsonPropertyName("records")]
    public long Records { get; init; }

    [JsonPropertyName("steps")]
    public long Steps { get; init; }

    [JsonPropertyName("compressedBytes")]
    public long CompressedBytes { get; init; }

    [JsonPropertyName("uncompressedBytes")]
    public long UncompressedBytes { get; init; }

    [JsonPropertyName("committedAt")]
    public DateTimeOffset CommittedAt { get; init; }
}

/// <summary>A committed trace found by content key.</summary>
public sealed record CommittedTrace
{
    [JsonPropertyName("contentKey")]
    public required string ContentKey { get; init; }

    [JsonPropertyName("trace")]
    public required TraceLocation Trace { get; init; }

    [JsonPropertyName("records")]
    public long Records { get; init; }

    [JsonPropertyName("steps")]
    public long Steps { get; init; }

    [JsonPropertyName("compressedBytes")]
    public long CompressedBytes { get; init; }

    [JsonPropertyName("uncompressedBytes")]
    public long UncompressedBytes { get; init; }

    [JsonPropertyName("prompts")]
    public int Prompts { get; init; }

    [JsonPropertyName("committedAt")]
    public DateTimeOffset CommittedAt { get; init; }
}
