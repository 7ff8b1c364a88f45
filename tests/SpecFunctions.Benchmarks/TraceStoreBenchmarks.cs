using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Benchmarks;

/// <summary>
/// Cost per speculative step (γ = 4) of streaming a trace into the local-folder store: JSON serialisation, gzip and
/// file writes, commit included. Compares the gzip levels (<see cref="TraceStoreOptions.TraceCompression"/>).
/// Each invocation writes <see cref="Steps"/> steps of one task and commits; results are per step.
/// </summary>
[MemoryDiagnoser]
public class TraceStoreBenchmarks
{
    private const int Steps = 10_000;
    private StepTrace[] _steps = [];
    private string _folder = string.Empty;
    private int _task;

    [Params(CompressionLevel.Fastest, CompressionLevel.Optimal)]
    public CompressionLevel Compression { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _steps = [.. Enumerable.Range(0, Steps).Select(i => new StepTrace
        {
            Step = i,
            Position = 8 + 3 * i,
            Gamma = 4,
            Accepted = random.Next(5),
            Emitted = 1 + random.Next(5),
            Alpha = [.. Enumerable.Range(0, 4).Select(_ => 0.35 + 0.6 * random.NextDouble())],
            CrossEntropy = [.. Enumerable.Range(0, 4).Select(_ => 1.5 + random.NextDouble())],
            Kl = [.. Enumerable.Range(0, 4).Select(_ => 0.5 * random.NextDouble())],
            DrafterMs = 0.05 + 0.02 * random.NextDouble(),
            DrafterCalls = 4,
            VerifierMs = 0.3 + 0.1 * random.NextDouble(),
        })];
        _folder = Path.Combine(Path.GetTempPath(), "specfn-bench-" + Guid.NewGuid().ToString("N"));
        var store = Store();
        store.CreateRunAsync(new RunManifest
        {
            RunId = "bench",
            Drafter = new ModelIdentity { Name = "d", Sha256 = ContentKey.Sha256Hex("d") },
            Verifier = new ModelIdentity { Name = "v", Sha256 = ContentKey.Sha256Hex("v") },
            Settings = new RunSettings { Gamma = 4, MaxNewTokens = 128 },
        }).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_folder, recursive: true);

    [Benchmark(OperationsPerInvoke = Steps)]
    public long WriteAndCommit()
    {
        var taskId = $"t{_task++}";
        var store = Store();
        var writer = store.OpenTraceWriterAsync("bench", taskId, ContentKey.Sha256Hex(taskId), 1).GetAwaiter().GetResult();
        foreach (var step in _steps)
        {
            writer.Write(step);
        }

        var entry = writer.CommitAsync().GetAwaiter().GetResult();
        writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return entry.CompressedBytes;
    }

    private TraceStore Store() => new(new LocalFolderObjectStore(_folder), new TraceStoreOptions { TraceCompression = Compression });
}
