using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Models.Synthetic;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Storage.Tests;

/// <summary>Which backend a store test runs on.</summary>
public enum StoreKind
{
    Local,
    Blob,
}

/// <summary>Builds stores of either kind and real traces from the speculative engine on synthetic pairs.</summary>
public sealed class TestRuns(AzuriteFixture azurite) : IDisposable
{
    private readonly List<string> _folders = [];

    public const int Gamma = 4;

    public static readonly RunSettings Settings = new() { Gamma = Gamma, MaxNewTokens = 48, Seed = 7, Baseline = true };

    public static readonly ModelIdentity Drafter = new() { Name = "synthetic-drafter", Sha256 = ContentKey.Sha256Hex("drafter") };

    public static readonly ModelIdentity Verifier = new() { Name = "synthetic-verifier", Sha256 = ContentKey.Sha256Hex("verifier") };

    /// <summary>Per-task α of the synthetic pairs: distinct tasks get distinct acceptance.</summary>
    public static readonly IReadOnlyDictionary<string, double> TaskAlphas = new Dictionary<string, double>
    {
        ["math-en"] = 0.9,
        ["math-de"] = 0.75,
        ["math-sw"] = 0.45,
    };

    public ITraceStore Create(StoreKind kind, TraceStoreOptions? options = null) => kind switch
    {
        StoreKind.Local => new TraceStore(new LocalFolderObjectStore(NewFolder()), options),
        StoreKind.Blob => new TraceStore(new BlobObjectStore(azurite.NewContainer()), options),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public IObjectStore CreateObjects(StoreKind kind) => kind switch
    {
        StoreKind.Local => new LocalFolderObjectStore(NewFolder()),
        StoreKind.Blob => new BlobObjectStore(azurite.NewContainer()),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public string NewFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "specfn-store-tests", Guid.NewGuid().ToString("N"));
        _folders.Add(folder);
        return folder;
    }

    public static RunManifest NewManifest(string runId, IEnumerable<string>? taskIds = null) => new()
    {
        RunId = runId,
        CreatedAt = new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero),
        Drafter = Drafter,
        Verifier = Verifier,
        Settings = Settings,
        Tasks = new SortedDictionary<string, TaskEntry>(
            (taskIds ?? TaskAlphas.Keys).ToDictionary(id => id, id => new TaskEntry { TaskId = id, Status = TaskState.Pending }),
            StringComparer.Ordinal),
    };

    public static string[] Prompts(string taskId) => [.. Enumerable.Range(0, 4).Select(i => $"{taskId} prompt {i}")];

    public static string KeyOf(string taskId) => ContentKey.Compute(Drafter.Sha256, Verifier.Sha256, Settings, Prompts(taskId));

    /// <summary>Runs the real engine (speculative + autoregressive baseline) for one task into <paramref name="sink"/>.</summary>
    public static void Produce(string taskId, ITraceSink sink, int promptCount = 4, int maxNewTokens = 48)
    {
        var (drafter, verifier) = SyntheticPair.Create(64, TaskAlphas.GetValueOrDefault(taskId, 0.6), seed: 3);
        var options = new DecodingOptions
        {
            Gamma = Gamma,
            MaxNewTokens = maxNewTokens,
            Sampling = SamplingOptions.Default,
            Seed = Settings.Seed,
            RecordTokens = false,
        };
        var prompts = Enumerable.Range(0, promptCount).Select(i => new[] { i + 1, (i * 7 + 3) % 64 }).ToList();
        new TaskRunner(drafter, verifier, options).Run(prompts, sink);
    }

    /// <summary>Creates a run and commits every task's trace from the engine (records are also kept in memory for comparison).</summary>
    public static async Task<Dictionary<string, List<TraceRecord>>> WriteRunAsync(ITraceStore store, string runId)
    {
        await store.CreateRunAsync(NewManifest(runId));
        var written = new Dictionary<string, List<TraceRecord>>();
        foreach (var taskId in TaskAlphas.Keys)
        {
            var memory = new ListTraceSink();
            Produce(taskId, memory);
            written[taskId] = [.. memory.Records];
            await using var writer = await store.OpenTraceWriterAsync(runId, taskId, KeyOf(taskId), 4);
            foreach (var record in memory.Records)
            {
                writer.Write(record);
            }

            await writer.CommitAsync();
        }

        return written;
    }

    public static async Task<List<TraceRecord>> ReadAllAsync(ITraceStore store, string runId, string taskId)
    {
        var records = new List<TraceRecord>();
        await foreach (var record in store.ReadTraceAsync(runId, taskId))
        {
            records.Add(record);
        }

        return records;
    }

    public void Dispose()
    {
        foreach (var folder in _folders.Where(Directory.Exists))
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
