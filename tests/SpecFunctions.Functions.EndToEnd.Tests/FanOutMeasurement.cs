using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SpecFunctions.Demo;
using SpecFunctions.Storage;
using SpecFunctions.Storage.Tests;
using Xunit.Abstractions;

namespace SpecFunctions.Functions.EndToEnd.Tests;

/// <summary>
/// The fan-out of a sharded run measured on real Functions hosts (docs/scale.md, "Fan-out measured on real hosts"): a
/// measurement, not a test of the product's speed. It runs only when asked for (trait <c>Requires=fanout-measure</c>, which
/// test.sh always leaves out; <c>benchmarks/fanout-hosts.sh</c> runs it) and asserts nothing about time: it asserts that
/// every run completes with every shard committed once and the same statistics whatever the number of hosts, and writes
/// the timings as a table (to <c>SPECFN_FANOUT_OUT</c> when set, and to the test output).
/// <para>
/// Each run gets a fresh Azurite (blob, queue, table) and fresh hosts of the published app, so no run reuses another's
/// traces (a task's content key does not depend on its sharding) and no host is warm from a previous run. Both planes:
/// <b>in process</b>, 1, 2 and 4 hosts of the one app sharing the task hub (the host that takes an activity runs it);
/// <b>queue</b>, one control host and 1, 2 and 4 evaluator hosts. The suite: <see cref="Tasks"/> tasks ×
/// <see cref="PromptsPerTask"/> short prompts, one prompt per shard; and, on one host of each plane, the same suite as one
/// shard per task, the reference for the overhead of the extra shards.
/// </para>
/// </summary>
[Trait("Requires", "fanout-measure")]
public sealed partial class FanOutMeasurement(ITestOutputHelper output) : IAsyncLifetime
{
    public const string OutputVariable = "SPECFN_FANOUT_OUT";

    private const int Tasks = 6, PromptsPerTask = 33, NewTokens = 16; // 198 one-prompt shards; EndToEndTests has 6 languages
    private const string MasterKey = FunctionsAppFixture.MasterKey;

    /// <summary>Report fields that depend only on the tokens (not on timings): equal in every run of the same suite.</summary>
    private static readonly string[] TimingFreeFields =
        ["prompts", "steps", "draftedTokens", "acceptedTokens", "generatedTokens", "acceptanceRate", "acceptanceRateCi", "alpha", "alphaCi", "crossEntropy", "crossEntropyCi", "kl", "klCi", "meanAcceptedLength"];

    private readonly string _work = Path.Combine(Path.GetTempPath(), "specfn-fanout-" + Guid.NewGuid().ToString("N")[..12]);

    private string AppFolder => Path.Combine(_work, "app");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        await FunctionsAppFixture.PublishAsync(AppFolder);
        await DemoModels.EnsureAsync(FunctionsAppFixture.DemoFolder);
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }

    [Fact]
    public async Task FanOut_OneTwoFourHosts_BothPlanes_EveryShardCommittedOnce_SameStatistics()
    {
        var runs = new List<Measured>();
        foreach (var plane in new[] { Plane.InProcess, Plane.Queue })
        {
            runs.Add(await MeasureAsync(plane, hosts: 1, promptsPerShard: PromptsPerTask));
            foreach (var hosts in new[] { 1, 2, 4 })
            {
                runs.Add(await MeasureAsync(plane, hosts, promptsPerShard: 1));
            }
        }

        // The same statistics, whatever the plane, the hosts and the shards (timings aside).
        var first = runs[0];
        foreach (var run in runs.Skip(1))
        {
            Assert.Equal(first.Statistics, run.Statistics);
        }

        var table = Table(runs);
        output.WriteLine(table);
        if (Environment.GetEnvironmentVariable(OutputVariable) is { Length: > 0 } path)
        {
            await File.WriteAllTextAsync(path, table);
        }
    }

    private async Task<Measured> MeasureAsync(Plane plane, int hosts, int promptsPerShard)
    {
        var azurite = new AzuriteFixture { WithQueue = true, WithTable = true };
        await azurite.InitializeAsync();
        var started = new List<FunctionsHost>();
        var label = $"{plane}-{hosts}-{promptsPerShard}".ToLowerInvariant();
        try
        {
            var port = AzuriteFixture.FreePort();
            var starting = new List<Task<FunctionsHost>>();
            for (var i = 0; i < hosts; i++)
            {
                var settings = FunctionsAppFixture.SampleSettings(azurite.ConnectionString);
                if (plane == Plane.Queue)
                {
                    settings["AzureFunctionsJobHost__functions__0"] = "EvaluateQueuedTask";
                }

                starting.Add(FunctionsHost.StartAsync(AppFolder, i == 0 && plane == Plane.InProcess ? port : AzuriteFixture.FreePort(),
                    azurite.ConnectionString, MasterKey, settings, _work, $"{label}-host-{i + 1}.log"));
            }

            if (plane == Plane.Queue)
            {
                var control = FunctionsAppFixture.SampleSettings(azurite.ConnectionString);
                control["Evaluation__Dispatch"] = "Queue";
                control["AzureWebJobs.EvaluateQueuedTask.Disabled"] = "true";
                starting.Add(FunctionsHost.StartAsync(AppFolder, port, azurite.ConnectionString, MasterKey, control, _work, $"{label}-control.log"));
            }

            started.AddRange(await Task.WhenAll(starting));
            var evaluators = started.Take(hosts).ToList();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/api/"), Timeout = TimeSpan.FromSeconds(60) };
            http.DefaultRequestHeaders.Add("x-functions-key", MasterKey);

            var runId = "fanout-" + label;
            var body = JsonNode.Parse(EndToEndTests.Submission(runId, Tasks, PromptsPerTask, NewTokens, suite: "fanout"))!;
            body["settings"]!["promptsPerShard"] = promptsPerShard;
            var load = Load();
            var response = await http.PostAsync("evaluations", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var status = await WaitFinishedAsync(http, runId, started);
            Assert.Equal("Completed", status.GetProperty("runtimeStatus").GetString());
            var shards = Tasks * (PromptsPerTask / promptsPerShard);
            var progress = status.GetProperty("progress");
            Assert.Equal((shards, shards), (progress.GetProperty("shardsDone").GetInt32(), progress.GetProperty("shardsTotal").GetInt32()));

            // Every shard committed once: one manifest entry per shard, and (one prompt per shard) one evaluation per shard.
            var store = BlobObjectStore.CreateTraceStore(azurite.ConnectionString);
            var manifest = (await store.GetManifestAsync(runId))!;
            Assert.All(manifest.Tasks.Values, t => Assert.Equal(promptsPerShard == PromptsPerTask ? 0 : PromptsPerTask / promptsPerShard, t.Shards?.Count ?? 0));
            var evaluated = evaluators.SelectMany(h => h.LogLines($"Run {runId}: task ")).Select(l => Evaluated().Match(l)).Where(m => m.Success).ToList();
            Assert.Equal(promptsPerShard == PromptsPerTask ? Tasks : shards, evaluated.Count);
            await RunAssertions.AssertWholeTracesAsync(store, runId, EndToEndTests.Languages.Take(Tasks).ToList(), PromptsPerTask);

            var report = await http.GetFromJsonAsync<JsonElement>($"evaluations/{runId}/report");
            var statistics = string.Join('\n', report.GetProperty("tasks").EnumerateArray().OrderBy(t => t.GetProperty("taskId").GetString(), StringComparer.Ordinal)
                .Select(t => t.GetProperty("taskId").GetString() + ": " + string.Join(", ", TimingFreeFields.Select(f => $"{f}={t.GetProperty(f).GetRawText()}"))));

            var wall = (status.GetProperty("lastUpdatedAt").GetDateTimeOffset() - status.GetProperty("createdAt").GetDateTimeOffset()).TotalSeconds;
            var work = evaluated.Sum(m => double.Parse(m.Groups["seconds"].Value, CultureInfo.InvariantCulture));
            var perHost = evaluators.Select(h => h.LogLines($"Run {runId}: task ").Count(l => Evaluated().IsMatch(l))).ToList();
            var measured = new Measured(plane, hosts, shards, promptsPerShard, wall, work, perHost, load, statistics);
            output.WriteLine($"{label}: {wall:F1} s, {shards} shards, work {work:F1} s, shards per host [{string.Join(", ", perHost)}], load {load}");
            return measured;
        }
        finally
        {
            foreach (var host in started)
            {
                host.Dispose();
            }

            await azurite.DisposeAsync();
        }
    }

    private static async Task<JsonElement> WaitFinishedAsync(HttpClient http, string runId, IReadOnlyList<FunctionsHost> hosts)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(15);
        while (true)
        {
            var status = await http.GetFromJsonAsync<JsonElement>($"evaluations/{runId}");
            if (status.GetProperty("runtimeStatus").GetString() is not ("Pending" or "Running"))
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{runId} not finished: {status}\n{string.Join("\n", hosts.Select(h => h.Tail(20)))}");
            Assert.All(hosts, h => Assert.False(h.HasExited, $"{h.LogPath} exited\n{h.Tail()}"));
            await Task.Delay(500);
        }
    }

    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    /// <summary>
    /// The table for docs/scale.md. Per plane: T(1), T(n) the wall time (orchestration created → completed) of the
    /// one-prompt-per-shard run on n hosts; speed-up T(1)/T(n); efficiency = ideal / actual = T(1) / (n·T(n)); overhead per
    /// extra shard (T(N shards) − T(one shard per task)) / (N − tasks) on one host; the ceiling CPU-bound work allows on this
    /// machine, min(n, cores) / n; host-seconds outside a shard's evaluation
    /// per shard, (n·T(n) − work) / shards, where work is the sum of the shards' own evaluation times from the hosts' logs.
    /// </summary>
    private static string Table(IReadOnlyList<Measured> runs)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{Tasks} tasks × {PromptsPerTask} prompts × {NewTokens} new tokens of the demo pair; {Environment.ProcessorCount} cores; {DateTime.UtcNow:yyyy-MM-dd}");
        text.AppendLine();
        text.AppendLine("| Plane | Hosts | Shards | Wall time (s) | Speed-up | Efficiency | Ceiling on these cores | Shards per host | Work in shards (s) | Host-s outside shards, per shard | Load at submit |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|");
        var overheads = new List<string>();
        foreach (var plane in runs.Select(r => r.Plane).Distinct())
        {
            var reference = runs.Single(r => r.Plane == plane && r.PromptsPerShard == PromptsPerTask);
            var one = runs.Single(r => r.Plane == plane && r.Hosts == 1 && r.PromptsPerShard == 1);
            foreach (var run in runs.Where(r => r.Plane == plane))
            {
                var sharded = run.PromptsPerShard == 1;
                var speedUp = sharded ? (one.Wall / run.Wall).ToString("F2", CultureInfo.InvariantCulture) : "–";
                var efficiency = sharded ? (one.Wall / (run.Hosts * run.Wall)).ToString("P0", CultureInfo.InvariantCulture) : "–";
                var ceiling = sharded ? ((double)Math.Min(run.Hosts, Environment.ProcessorCount) / run.Hosts).ToString("P0", CultureInfo.InvariantCulture) : "–";
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {(plane == Plane.Queue ? "queue (control + evaluators)" : "in process")} | {run.Hosts} | {run.Shards}{(sharded ? "" : " (one per task)")} | {run.Wall:F1} | {speedUp} | {efficiency} | {ceiling} | "
                    + $"{string.Join(" / ", run.PerHost)} | {run.Work:F1} | {(run.Hosts * run.Wall - run.Work) / run.Shards:F2} | {run.Load} |");
            }

            overheads.Add($"{(plane == Plane.Queue ? "Queue" : "In process")}: overhead per extra shard on one host (T({one.Shards} shards) − T({reference.Shards} shards)) / {one.Shards - reference.Shards} = "
                + $"{(one.Wall - reference.Wall) / (one.Shards - reference.Shards):F2} s");
        }

        text.AppendLine();
        text.AppendJoin("\n\n", overheads);
        text.AppendLine();
        return text.ToString();
    }

    private enum Plane
    {
        InProcess,
        Queue,
    }

    private sealed record Measured(Plane Plane, int Hosts, int Shards, int PromptsPerShard, double Wall, double Work, IReadOnlyList<int> PerHost, string Load, string Statistics);

    /// <summary>A shard's (or an unsharded task's) evaluation as the activity logs it, with its own time.</summary>
    [GeneratedRegex(@"task \S+ (shard \d+ of \d+ )?committed, alpha \S+, (?<seconds>[0-9.]+) s")]
    private static partial Regex Evaluated();
}
