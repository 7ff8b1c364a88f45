using System.Diagnostics;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;
using Xunit.Abstractions;

namespace SpecFunctions.Storage.Tests;

/// <summary>A 100 000-step trace streams in and out without being held in memory.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class LargeTraceTests(AzuriteFixture azurite, ITestOutputHelper output) : IDisposable
{
    private const int Steps = 100_000;
    private const int Gamma = 4;

    /// <summary>
    /// Bound on the growth of the live managed heap (measured after full collections every 10 000 records) while a
    /// 100 000-step trace is written or read: 12 MiB. It covers the 4 MiB upload block (or read buffer), the gzip
    /// and JSON buffers and the SDK's pipeline; the uncompressed trace is several times larger (asserted below).
    /// </summary>
    private const long LiveHeapBoundBytes = 12L * 1024 * 1024;

    private readonly TestRuns _runs = new(azurite);

    public void Dispose() => _runs.Dispose();

    [Theory]
    [InlineData(StoreKind.Blob)]
    [InlineData(StoreKind.Local)]
    public async Task HundredThousandSteps_WriteAndRead_LiveHeapStaysBounded(StoreKind kind)
    {
        var store = _runs.Create(kind);
        await store.CreateRunAsync(TestRuns.NewManifest("large", ["big"]));
        var key = ContentKey.Sha256Hex("large");

        var writeMeter = new MemoryMeter();
        long writeTicks = 0;
        TaskEntry entry;
        var totalWatch = Stopwatch.StartNew();
        await using (var writer = await store.OpenTraceWriterAsync("large", "big", key, 1))
        {
            var random = new Random(42);
            for (var step = 0; step < Steps; step++)
            {
                var record = SyntheticStep(random, step);
                var start = Stopwatch.GetTimestamp();
                writer.Write(record);
                writeTicks += Stopwatch.GetTimestamp() - start;
                if ((step + 1) % 10_000 == 0)
                {
                    writeMeter.Sample();
                }
            }

            writer.Write(new PromptTrace { Prompt = 0, Steps = Steps, GeneratedTokens = Steps * 3, SpeculativeMs = 1000 });
            var commitStart = Stopwatch.GetTimestamp();
            entry = await writer.CommitAsync();
            writeTicks += Stopwatch.GetTimestamp() - commitStart;
        }

        totalWatch.Stop();
        writeMeter.Sample();

        var readMeter = new MemoryMeter();
        var readWatch = Stopwatch.StartNew();
        var count = 0;
        var checkRandom = new Random(42);
        var mismatches = 0;
        await foreach (var record in store.ReadTraceAsync("large", "big"))
        {
            if (record is StepTrace step)
            {
                var expected = SyntheticStep(checkRandom, count);
                if (step.Step != expected.Step || step.Accepted != expected.Accepted || !step.Alpha.SequenceEqual(expected.Alpha))
                {
                    mismatches++;
                }
            }

            if (++count % 10_000 == 0)
            {
                readMeter.Sample();
            }
        }

        readWatch.Stop();
        readMeter.Sample();

        var writeSeconds = writeTicks / (double)Stopwatch.Frequency;
        output.WriteLine($"{kind}: {Steps} steps (γ={Gamma}), {entry.UncompressedBytes / 1e6:F1} MB JSON → {entry.CompressedBytes / 1e6:F2} MB gzip, " +
            $"{entry.CompressedBytes / (double)Steps:F1} B/step compressed, {entry.UncompressedBytes / (double)Steps:F0} B/step raw");
        output.WriteLine($"{kind}: write {Steps / writeSeconds:F0} steps/s, {entry.UncompressedBytes / 1e6 / writeSeconds:F1} MB/s JSON, " +
            $"{entry.CompressedBytes / 1e6 / writeSeconds:F2} MB/s to storage (serialize+gzip+upload, {writeSeconds:F2} s; {totalWatch.Elapsed.TotalSeconds:F2} s with record generation and GC sampling)");
        output.WriteLine($"{kind}: read {count / readWatch.Elapsed.TotalSeconds:F0} records/s ({readWatch.Elapsed.TotalSeconds:F2} s incl. GC sampling)");
        output.WriteLine($"{kind}: live heap growth peak write {writeMeter.PeakLiveGrowth / 1048576.0:F2} MiB, read {readMeter.PeakLiveGrowth / 1048576.0:F2} MiB; " +
            $"working set growth peak write {writeMeter.PeakWorkingSetGrowth / 1048576.0:F1} MiB, read {readMeter.PeakWorkingSetGrowth / 1048576.0:F1} MiB");

        Assert.Equal(Steps + 1, count);
        Assert.Equal(0, mismatches);
        Assert.Equal(Steps, entry.Steps);
        Assert.True(entry.UncompressedBytes > 3 * LiveHeapBoundBytes, $"trace of {entry.UncompressedBytes} bytes is too small to show streaming");
        Assert.InRange(writeMeter.PeakLiveGrowth, long.MinValue, LiveHeapBoundBytes);
        Assert.InRange(readMeter.PeakLiveGrowth, long.MinValue, LiveHeapBoundBytes);
    }

    /// <summary>A step shaped like the engine's: γ drafted positions with full-precision α, cross-entropy, KL and timings.</summary>
    private static StepTrace SyntheticStep(Random random, int step)
    {
        var alpha = new double[Gamma];
        var ce = new double[Gamma];
        var kl = new double[Gamma];
        var accepted = 0;
        var rejected = false;
        for (var i = 0; i < Gamma; i++)
        {
            alpha[i] = 0.35 + 0.6 * random.NextDouble();
            kl[i] = -Math.Log(alpha[i]) * (0.5 + random.NextDouble());
            ce[i] = kl[i] + 1.5 + random.NextDouble();
            if (!rejected && random.NextDouble() < alpha[i])
            {
                accepted++;
            }
            else
            {
                rejected = true;
            }
        }

        return new StepTrace
        {
            Prompt = 0,
            Step = step,
            Position = 8 + step * 3,
            Gamma = Gamma,
            Accepted = accepted,
            Bonus = accepted == Gamma,
            Emitted = accepted + 1,
            Alpha = alpha,
            CrossEntropy = ce,
            Kl = kl,
            DrafterMs = 0.05 + 0.02 * random.NextDouble(),
            DrafterCalls = Gamma,
            VerifierMs = 0.3 + 0.1 * random.NextDouble(),
        };
    }

    /// <summary>Peak growth of the live heap (after a full collection) and of the working set since construction.</summary>
    private sealed class MemoryMeter
    {
        private readonly long _baseLive;
        private readonly long _baseWorkingSet;

        public MemoryMeter()
        {
            _baseLive = GC.GetTotalMemory(forceFullCollection: true);
            _baseWorkingSet = WorkingSet();
        }

        public long PeakLiveGrowth { get; private set; }

        public long PeakWorkingSetGrowth { get; private set; }

        public void Sample()
        {
            PeakLiveGrowth = Math.Max(PeakLiveGrowth, GC.GetTotalMemory(forceFullCollection: true) - _baseLive);
            PeakWorkingSetGrowth = Math.Max(PeakWorkingSetGrowth, WorkingSet() - _baseWorkingSet);
        }

        private static long WorkingSet()
        {
            using var process = Process.GetCurrentProcess();
            return process.WorkingSet64;
        }
    }
}
