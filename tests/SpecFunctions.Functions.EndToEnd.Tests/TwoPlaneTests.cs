using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using SpecFunctions.Core.Storage;
using Xunit.Abstractions;

namespace SpecFunctions.Functions.EndToEnd.Tests;

/// <summary>
/// Queue dispatch across two real hosts (<see cref="TwoPlaneFixture"/>): the control plane puts one message per task on
/// the evaluation queue, the evaluator plane runs it and answers on the completion queue. Tests run one after another
/// and leave the evaluator running when they end.
/// </summary>
[Collection(TwoPlaneCollection.Name)]
[Trait("Requires", "functions-host")]
public sealed class TwoPlaneTests(TwoPlaneFixture planes, ITestOutputHelper output)
{
    private async Task SubmitAsync(string body) =>
        Assert.Equal(HttpStatusCode.Accepted, (await planes.Http.PostAsync("evaluations", new StringContent(body, Encoding.UTF8, "application/json"))).StatusCode);

    private async Task<JsonElement> WaitFinishedAsync(string runId, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var status = await planes.Http.GetFromJsonAsync<JsonElement>($"evaluations/{runId}");
            if (status.GetProperty("runtimeStatus").GetString() is not ("Pending" or "Running"))
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{runId} not finished in {timeout.TotalSeconds:F0} s: {status}\ncontrol:\n{planes.Control.Tail()}\nevaluator:\n{planes.Evaluator?.Tail()}");
            await Task.Delay(250);
        }
    }

    private static Dictionary<string, string> States(JsonElement status) =>
        status.GetProperty("output").GetProperty("tasks").EnumerateArray().ToDictionary(t => t.GetProperty("taskId").GetString()!, t => t.GetProperty("status").GetString()!);

    /// <summary>Log lines of every evaluator host started so far.</summary>
    private List<string> EvaluatorLines(string text) => planes.Evaluators.SelectMany(e => e.LogLines(text)).ToList();

    [Fact]
    public async Task RunCompletesAcrossThePlanes_EvaluatorEvaluatesEveryTask_ControlNone_SameReportShape()
    {
        const string runId = "two-plane-1";
        var tasks = EndToEndTests.Languages.Take(3).ToList();
        if (planes.Evaluator is null)
        {
            await planes.StartEvaluatorAsync();
        }

        var clock = Stopwatch.StartNew();
        await SubmitAsync(EndToEndTests.Submission(runId, 3, 3, 24));
        var status = await WaitFinishedAsync(runId, TimeSpan.FromMinutes(3));
        output.WriteLine($"two planes: submit → Completed in {clock.Elapsed.TotalSeconds:F1} s (3 tasks × 3 prompts × 24 tokens)");

        Assert.Equal("Completed", status.GetProperty("runtimeStatus").GetString());
        Assert.Equal("done", status.GetProperty("progress").GetProperty("phase").GetString());
        Assert.All(tasks, id => Assert.Equal("committed", States(status)[id]));
        foreach (var task in status.GetProperty("output").GetProperty("tasks").EnumerateArray())
        {
            // The evaluator says where it ran: the CPU it was asked for here (the GPU fields need an NVIDIA driver).
            var device = task.GetProperty("device");
            Assert.Equal("cpu", device.GetProperty("requested").GetString());
            Assert.Equal("CPUExecutionProvider", device.GetProperty("executionProvider").GetString());
            Assert.False(device.GetProperty("fellBackToCpu").GetBoolean());
        }

        Assert.False(status.TryGetProperty("deviceWarning", out _));
        foreach (var id in tasks)
        {
            // Evaluated once, on the evaluator; dispatched once and completed through the completion queue on the control plane.
            Assert.Single(EvaluatorLines($"Run {runId}: task {id} committed"));
            Assert.Empty(planes.Control.LogLines($"Run {runId}: task {id} committed"));
            Assert.Single(planes.Control.LogLines($"Run {runId}: task {id} put on the evaluation queue (dispatch 1)"));
            Assert.Single(planes.Control.LogLines($"Completion of task {id} (committed, dispatch 1) raised on {runId}"));
        }

        // The evaluator ran no Durable work and served nothing but its queue.
        Assert.Empty(EvaluatorLines("Executing 'Functions.EvaluateSuite'"));
        Assert.Empty(EvaluatorLines("Executing 'Functions.ComputeFairness'"));
        Assert.Empty(planes.Control.LogLines("Executing 'Functions.EvaluateQueuedTask'"));

        var report = await planes.Http.GetFromJsonAsync<JsonElement>($"evaluations/{runId}/report");
        Assert.Equal(tasks, report.GetProperty("tasks").EnumerateArray().Select(t => t.GetProperty("taskId").GetString()!));
        Assert.All(report.GetProperty("tasks").EnumerateArray(), t => Assert.InRange(t.GetProperty("alpha").GetDouble(), 0.01, 1.0));
        await RunAssertions.AssertWholeTracesAsync(planes.Store, runId, tasks, prompts: 3);
    }

    [Fact]
    public async Task SubmittedWhileTheEvaluatorIsDown_MessagesWait_GpuEvaluatorStartedLater_RunCompletes_CpuFallbackMarked()
    {
        const string runId = "two-plane-cold";
        var tasks = EndToEndTests.Languages.Take(3).ToList();
        planes.KillEvaluator();
        await SubmitAsync(EndToEndTests.Submission(runId, 3, 2, 16));

        // Scale from zero as one machine shows it: the messages wait on the queue and the run waits with them.
        var queued = await WaitForQueuedAsync(3, TimeSpan.FromMinutes(1));
        await Task.Delay(TimeSpan.FromSeconds(5));
        var waiting = await planes.Http.GetFromJsonAsync<JsonElement>($"evaluations/{runId}");
        Assert.Equal("Running", waiting.GetProperty("runtimeStatus").GetString());
        Assert.All((await planes.Store.GetManifestAsync(runId))!.Tasks.Values, t => Assert.Equal(TaskState.Pending, t.Status));

        // The evaluator asks for the GPU this machine does not have: ONNX Runtime falls back to the CPU, and the run says so.
        var clock = Stopwatch.StartNew();
        var started = await planes.StartEvaluatorAsync(new Dictionary<string, string> { ["Onnx__Device"] = "Cuda" });
        var status = await WaitFinishedAsync(runId, TimeSpan.FromMinutes(3));
        output.WriteLine(
            $"evaluator down: {queued} message(s) waited on the queue; evaluator host up in {started.TotalSeconds:F1} s, "
            + $"run completed {clock.Elapsed.TotalSeconds:F1} s after the evaluator was started");

        Assert.Equal("Completed", status.GetProperty("runtimeStatus").GetString());
        Assert.All(tasks, id => Assert.Equal("committed", States(status)[id]));
        Assert.All(tasks, id => Assert.Single(planes.Control.LogLines($"Run {runId}: task {id} put on the evaluation queue")));
        await RunAssertions.AssertWholeTracesAsync(planes.Store, runId, tasks, prompts: 2);

        // GPU requested, CPU used: marked in the status body, its header, the outcome and the report, not only logged.
        using var response = await planes.Http.GetAsync($"evaluations/{runId}");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var warning = body.GetProperty("deviceWarning").GetString()!;
        output.WriteLine($"device warning: {warning}");
        Assert.StartsWith("GPU requested but the CPU ran 3 task(s) (en, es, fr)", warning, StringComparison.Ordinal);
        Assert.Equal("cpu", Assert.Single(response.Headers.GetValues("X-Specfn-Device-Fallback")));
        Assert.All(body.GetProperty("output").GetProperty("tasks").EnumerateArray(), t => Assert.True(t.GetProperty("device").GetProperty("fellBackToCpu").GetBoolean()));
        var report = await planes.Http.GetFromJsonAsync<JsonElement>($"evaluations/{runId}/report");
        Assert.Equal([warning], report.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));
        Assert.All(tasks, id => Assert.Single(planes.Evaluator!.LogLines($"Run {runId} task {id}: GPU requested but the CPU did the work: no NVIDIA driver")));

        // Back to the CPU evaluator the other tests expect.
        planes.KillEvaluator();
        await planes.StartEvaluatorAsync();
    }

    [Fact]
    public async Task EvaluatorKilledMidTask_TaskDispatchedAgain_RunCompletes_InFlightTaskCommittedOnce_NoDuplicateTrace()
    {
        const string runId = "two-plane-kill";
        const int prompts = 24;
        var tasks = EndToEndTests.Languages.Take(4).ToList();
        if (planes.Evaluator is null)
        {
            await planes.StartEvaluatorAsync();
        }

        await SubmitAsync(EndToEndTests.Submission(runId, 4, prompts, 128));
        var before = await RunAssertions.WaitForManifestAsync(planes.Store, runId, m => m.Tasks.Values.Count(t => t.Status == TaskState.Committed) >= 1
            && m.Tasks.Values.Any(t => t.Status == TaskState.Running), TimeSpan.FromMinutes(3), () => planes.Evaluator!.Tail());
        var inFlight = before.Tasks.Values.Single(t => t.Status == TaskState.Running).TaskId;
        var committedBefore = before.Tasks.Values.Where(t => t.Status == TaskState.Committed).ToDictionary(t => t.TaskId);
        var killed = planes.Evaluator!;

        planes.KillEvaluator();
        var clock = Stopwatch.StartNew();
        var restart = await planes.StartEvaluatorAsync();
        var status = await WaitFinishedAsync(runId, TimeSpan.FromMinutes(5));
        var completed = clock.Elapsed;
        var redispatch = planes.Control.LogLines($"Run {runId}: task {inFlight} put on the evaluation queue (dispatch 2)");
        output.WriteLine(
            $"kill -9 of the evaluator with {committedBefore.Count} of 4 tasks committed, {inFlight} in flight; new evaluator up in {restart.TotalSeconds:F1} s; "
            + $"run completed {completed.TotalSeconds:F1} s after the kill (dispatch timeout {TwoPlaneFixture.DispatchTimeoutSeconds} s)");

        Assert.Equal("Completed", status.GetProperty("runtimeStatus").GetString());
        Assert.All(tasks, id => Assert.Equal("committed", States(status)[id]));

        // The in-flight task's message stays invisible to the new evaluator (the queue trigger holds it for 10 minutes),
        // so the orchestration's timer dispatched it again; it was committed once, by the new evaluator.
        Assert.Single(redispatch);
        Assert.Single(planes.Control.LogLines($"Run {runId}: task {inFlight} had no completion"));
        Assert.Empty(killed.LogLines($"Run {runId}: task {inFlight} committed"));
        Assert.Single(planes.Evaluator!.LogLines($"Run {runId}: task {inFlight} committed"));
        var after = (await planes.Store.GetManifestAsync(runId))!;
        foreach (var (id, entry) in committedBefore)
        {
            Assert.Equal(entry, after.Tasks[id]);
            Assert.Empty(planes.Evaluator.LogLines($"Run {runId}: task {id} "));
        }

        // One trace per task, each whole (no prompt twice).
        var traces = (await RunAssertions.RunBlobsAsync(planes.ConnectionString, runId)).Where(b => b.Contains("/tasks/", StringComparison.Ordinal)).ToList();
        Assert.Equal(tasks.Select(t => $"runs/{runId}/tasks/{t}/trace.jsonl.gz").Order(StringComparer.Ordinal), traces);
        await RunAssertions.AssertWholeTracesAsync(planes.Store, runId, tasks, prompts);
    }

    [Fact]
    public async Task EvaluatorKilledMidShard_OnlyTheInFlightShardRunsAgain_CommittedShardsKept_EachShardCommittedOnce()
    {
        const string runId = "two-plane-shard-kill";
        const int prompts = 24, shards = 6;
        if (planes.Evaluator is null)
        {
            await planes.StartEvaluatorAsync();
        }

        var body = System.Text.Json.Nodes.JsonNode.Parse(EndToEndTests.Submission(runId, 1, prompts, 64))!;
        body["settings"]!["promptsPerShard"] = prompts / shards;
        await SubmitAsync(body.ToJsonString());
        const string task = "en";

        // Wait until at least two shards are committed and the evaluator has started one that is not: the one in flight.
        var killed = planes.Evaluator!;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        Dictionary<int, string> committedBefore;
        int inFlight;
        while (true)
        {
            var entry = (await planes.Store.GetManifestAsync(runId))?.Tasks.GetValueOrDefault(task);
            committedBefore = (entry?.Shards ?? []).ToDictionary(s => s.Index, s => s.Attempt);
            var started = Enumerable.Range(0, shards).Where(i => killed.LogLines($"Run {runId}: task {task} shard {i} of {shards} started").Count > 0).ToList();
            var running = started.Where(i => !committedBefore.ContainsKey(i)).ToList();
            if (committedBefore.Count >= 2 && running.Count == 1 && committedBefore.Count < shards - 1)
            {
                inFlight = running[0];
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no shard in flight after two committed: {string.Join(",", committedBefore.Keys)}\n{killed.Tail()}");
            await Task.Delay(100);
        }

        planes.KillEvaluator();
        var clock = Stopwatch.StartNew();
        // What the manifest held at the kill (a shard may have committed between the poll and the kill).
        committedBefore = ((await planes.Store.GetManifestAsync(runId))!.Tasks[task].Shards ?? []).ToDictionary(s => s.Index, s => s.Attempt);
        var restart = await planes.StartEvaluatorAsync();
        var status = await WaitFinishedAsync(runId, TimeSpan.FromMinutes(5));
        output.WriteLine(
            $"kill -9 of the evaluator with shards [{string.Join(", ", committedBefore.Keys.Order())}] of {shards} committed, shard {inFlight} in flight; "
            + $"new evaluator up in {restart.TotalSeconds:F1} s; run completed {clock.Elapsed.TotalSeconds:F1} s after the kill");

        Assert.Equal("Completed", status.GetProperty("runtimeStatus").GetString());
        Assert.Equal("committed", States(status)[task]);
        var progress = status.GetProperty("progress");
        Assert.Equal((shards, shards, prompts), (progress.GetProperty("shardsDone").GetInt32(), progress.GetProperty("shardsTotal").GetInt32(), progress.GetProperty("promptsTotal").GetInt32()));

        // The shards committed before the kill were not run again and their parts were kept; the in-flight one was
        // not committed by the killed evaluator, and was run again and committed once by the new one.
        var after = (await planes.Store.GetManifestAsync(runId))!.Tasks[task];
        Assert.Equal(Enumerable.Range(0, shards), after.Shards!.Select(s => s.Index));
        foreach (var (index, attempt) in committedBefore)
        {
            Assert.Equal(attempt, after.Shards!.Single(s => s.Index == index).Attempt);
            Assert.Empty(planes.Evaluator!.LogLines($"Run {runId}: task {task} shard {index} of {shards} started"));
        }

        Assert.Empty(killed.LogLines($"Run {runId}: task {task} shard {inFlight} of {shards} committed"));
        var rerun = Enumerable.Range(0, shards).Where(i => !committedBefore.ContainsKey(i)).ToList();
        Assert.Contains(inFlight, rerun);
        foreach (var index in rerun)
        {
            Assert.Single(EvaluatorLines($"Run {runId}: task {task} shard {index} of {shards} committed"));
        }

        // One part per shard in the container (no duplicate), and the trace reads every prompt once, in order.
        var parts = (await RunAssertions.RunBlobsAsync(planes.ConnectionString, runId)).Where(b => b.Contains("/shards/", StringComparison.Ordinal)).ToList();
        Assert.Equal(shards, parts.Count);
        await RunAssertions.AssertWholeTracesAsync(planes.Store, runId, [task], prompts);
    }

    [Fact]
    public async Task CancelWhileShardsRunOnTwoEvaluators_InFlightShardsStopBetweenPrompts_CommittedKept_ResubmitRunsOnlyTheRest()
    {
        const string runId = "two-plane-shard-cancel";
        const int taskCount = 2, prompts = 96, perShard = 24; // 4 shards a task, 8 in all, each several seconds here
        const int shardsPerTask = prompts / perShard;
        var tasks = EndToEndTests.Languages.Take(taskCount).ToList();

        // Evaluators that look for the cancellation every 0.25 s (Evaluation:CancellationPollSeconds, default 2 s), so a
        // shard caught at its start is stopped mid-way whatever this machine's speed; the primary one stays for the
        // tests that follow (an idle evaluator killed: nothing in flight).
        var fastPoll = new Dictionary<string, string> { ["Evaluation__CancellationPollSeconds"] = "0.25" };
        if (planes.Evaluator is not null)
        {
            planes.KillEvaluator();
        }

        await planes.StartEvaluatorAsync(fastPoll);
        var hosts = new List<FunctionsHost> { planes.Evaluator!, await planes.StartAnotherEvaluatorAsync(fastPoll) };
        List<(string Task, int Shard)> StartedOnEither() => hosts.SelectMany(h => RunAssertions.StartedShards(h, runId)).ToList();
        try
        {
            var body = System.Text.Json.Nodes.JsonNode.Parse(EndToEndTests.Submission(runId, taskCount, prompts, 128))!;
            body["settings"]!["promptsPerShard"] = perShard;
            await SubmitAsync(body.ToJsonString());

            // Cancel once a shard is committed, both evaluator hosts are in the middle of a shard, one of them has just
            // started its shard (since the previous look, 100 ms ago) and at least one shard is still on the queue.
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
            Dictionary<(string Task, int Shard), string> committedBefore;
            List<(string Task, int Shard)> inFlight;
            var seen = new HashSet<(string Task, int Shard)>();
            while (true)
            {
                committedBefore = await RunAssertions.CommittedShardsAsync(planes.Store, runId);
                var started = StartedOnEither().ToHashSet();
                inFlight = hosts.Select(h => RunAssertions.StartedShards(h, runId).Where(s => !committedBefore.ContainsKey(s)).ToList())
                    .Where(running => running.Count == 1).Select(running => running[0]).ToList();
                var fresh = inFlight.Any(s => !seen.Contains(s));
                seen = started;
                if (committedBefore.Count >= 1 && inFlight.Count == hosts.Count && fresh && started.Count < taskCount * shardsPerTask)
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, $"never one shard committed with both evaluators mid-shard\n{planes.Control.Tail()}");
                await Task.Delay(100);
            }

            var partsBefore = await RunAssertions.ShardPartsAsync(planes.ConnectionString, runId);
            var clock = Stopwatch.StartNew();
            Assert.Equal(HttpStatusCode.Accepted, (await planes.Http.PostAsync($"evaluations/{runId}/cancel", null)).StatusCode);

            // An activity that read "not cancelled" just before the request may still log its start a moment later; after
            // that, no shard starts.
            await Task.Delay(TimeSpan.FromSeconds(3));
            var startedSoon = StartedOnEither().ToHashSet();
            var status = await WaitFinishedAsync(runId, TimeSpan.FromMinutes(3));
            var finished = clock.Elapsed;
            var committedAfter = await RunAssertions.CommittedShardsAsync(planes.Store, runId);
            var stopped = hosts.SelectMany(h => h.LogLines($"Run {runId}: task ")).Where(l => l.Contains(" cancelled after ", StringComparison.Ordinal)).ToList();
            output.WriteLine(
                $"cancel with shards [{RunAssertions.Describe(committedBefore.Keys)}] committed and [{RunAssertions.Describe(inFlight)}] in flight on two evaluators: "
                + $"run ended {finished.TotalSeconds:F1} s later with [{RunAssertions.Describe(committedAfter.Keys)}] committed; {stopped.Count} evaluation(s) answered cancelled:\n  "
                + string.Join("\n  ", stopped.Select(l => l[l.IndexOf("Run ", StringComparison.Ordinal)..])));

            Assert.Equal("Completed", status.GetProperty("runtimeStatus").GetString());
            Assert.Equal("cancelled", status.GetProperty("progress").GetProperty("phase").GetString());
            Assert.True(status.GetProperty("output").GetProperty("cancelled").GetBoolean());
            Assert.All(tasks, id => Assert.Equal("cancelled", States(status)[id]));

            // Committed before the cancel: kept, same attempt, same bytes. No shard started after the cancel took hold.
            Assert.All(committedBefore, c => Assert.Equal(c.Value, committedAfter[c.Key]));
            var partsAfter = await RunAssertions.ShardPartsAsync(planes.ConnectionString, runId);
            Assert.All(partsBefore, p => Assert.Equal(p.Value, partsAfter[p.Key]));
            Assert.Equal(startedSoon, StartedOnEither().ToHashSet());

            // The shards in flight stopped between prompts without committing (a shard that finished its last prompt
            // before its next cancellation poll commits: it is then one of the committed ones, once).
            var stoppedMidway = 0;
            foreach (var (task, shard) in inFlight)
            {
                var host = hosts.Single(h => RunAssertions.StartedShards(h, runId).Contains((task, shard)));
                if (committedAfter.ContainsKey((task, shard)))
                {
                    Assert.Single(host.LogLines($"Run {runId}: task {task} shard {shard} of {shardsPerTask} committed"));
                    continue;
                }

                var line = Assert.Single(host.LogLines($"Run {runId}: task {task} shard {shard} of {shardsPerTask} cancelled after"));
                var after = RunAssertions.PromptsBeforeCancel(line);
                Assert.InRange(after, 0, perShard - 1);
                stoppedMidway++;
            }

            Assert.True(stoppedMidway >= 1, "no shard in flight was stopped by the cancel");

            // The shards still on the queue: each taken by an evaluator and answered cancelled before its first prompt.
            var queued = Enumerable.Range(0, shardsPerTask).SelectMany(i => tasks.Select(t => (Task: t, Shard: i)))
                .Where(s => !committedAfter.ContainsKey(s) && !inFlight.Contains(s)).ToList();
            Assert.NotEmpty(queued);
            foreach (var (task, shard) in queued)
            {
                var answers = hosts.SelectMany(h => h.LogLines($"Run {runId}: task {task} shard {shard} of {shardsPerTask} cancelled after")).ToList();
                Assert.NotEmpty(answers);
                Assert.All(answers, l => Assert.Contains("cancelled after 0 prompt(s)", l, StringComparison.Ordinal));
            }

            // Nothing torn: every part in the container is a committed shard's (a stopped shard's staged part never appears).
            var referenced = committedAfter.Select(c => TraceStoreLayout.TraceShard(runId, c.Key.Task, c.Key.Shard, c.Value)).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(referenced, partsAfter.Keys.Order(StringComparer.Ordinal).ToList());

            // Submitted again: the committed shards are kept (not started again, same attempt), the others run once each.
            var startsBefore = StartedOnEither().Count;
            clock.Restart();
            await SubmitAsync(body.ToJsonString());
            var resumed = await WaitFinishedAsync(runId, TimeSpan.FromMinutes(4));
            output.WriteLine($"re-submitted: completed in {clock.Elapsed.TotalSeconds:F1} s");
            Assert.Equal("Completed", resumed.GetProperty("runtimeStatus").GetString());
            Assert.All(tasks, id => Assert.Equal("committed", States(resumed)[id]));
            var final = await RunAssertions.CommittedShardsAsync(planes.Store, runId);
            Assert.Equal(taskCount * shardsPerTask, final.Count);
            Assert.All(committedAfter, c => Assert.Equal(c.Value, final[c.Key]));
            var restarted = StartedOnEither().Count - startsBefore;
            Assert.Equal(taskCount * shardsPerTask - committedAfter.Count, restarted);
            foreach (var key in final.Keys.Except(committedAfter.Keys))
            {
                Assert.Single(hosts.SelectMany(h => h.LogLines($"Run {runId}: task {key.Task} shard {key.Shard} of {shardsPerTask} committed")));
            }

            Assert.Equal(taskCount * shardsPerTask, (await RunAssertions.ShardPartsAsync(planes.ConnectionString, runId)).Count);
            await RunAssertions.AssertWholeTracesAsync(planes.Store, runId, tasks, prompts);
        }
        finally
        {
            planes.Kill(hosts[1]);
        }
    }

    [Fact]
    public async Task FaultsAtSize_EvaluatorsKilled_StorageOutage_LateRedelivery_EveryShardCommittedOnce_NothingRewritten()
    {
        const string runId = "two-plane-faults";
        const int taskCount = 6, prompts = 24; // one prompt per shard: 144 shards
        const int shards = taskCount * prompts;
        var tasks = EndToEndTests.Languages.Take(taskCount).ToList();
        var random = new Random(28);
        if (planes.Evaluator is null)
        {
            await planes.StartEvaluatorAsync();
        }

        var hostsBefore = planes.Evaluators.Count - 1;
        var live = new List<FunctionsHost> { planes.Evaluator!, await planes.StartAnotherEvaluatorAsync() };
        var clock = Stopwatch.StartNew();
        var events = new List<string>();
        void Note(string what) => events.Add($"{clock.Elapsed.TotalSeconds,6:F1} s  {what}");
        try
        {
            var body = System.Text.Json.Nodes.JsonNode.Parse(EndToEndTests.Submission(runId, taskCount, prompts, 20))!;
            body["settings"]!["promptsPerShard"] = 1;
            await SubmitAsync(body.ToJsonString());
            Note($"submitted: {taskCount} tasks × {prompts} prompts, 1 prompt per shard, 2 evaluator hosts");

            // A copy of one shard's message as the control plane sent it, taken off the queue before an evaluator reads it.
            var (copy, copyTask, copyShard) = await PeekShardMessageAsync(runId, TimeSpan.FromMinutes(1));
            Note($"copied the message of {copyTask} shard {copyShard}");

            // The faults, each at a seeded point of the run's progress (committed shards).
            var parts = new Dictionary<string, Azure.ETag>();
            var attempts = new Dictionary<(string, int), string>();
            async Task<int> SnapshotAsync()
            {
                var manifest = (await planes.Store.GetManifestAsync(runId))!;
                foreach (var (task, entry) in manifest.Tasks)
                {
                    foreach (var part in entry.Shards ?? [])
                    {
                        attempts.TryAdd((task, part.Index), part.Attempt);
                    }
                }

                foreach (var (name, etag) in await RunAssertions.ShardPartsAsync(planes.ConnectionString, runId))
                {
                    parts.TryAdd(name, etag);
                }

                return manifest.Tasks.Values.Sum(t => t.Status is TaskState.Committed ? prompts : t.Shards?.Count ?? 0);
            }

            async Task WaitCommittedAsync(int count)
            {
                var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
                while (await SnapshotAsync() < count)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"{count} shards not committed\n{string.Join('\n', events)}\n{planes.Control.Tail()}");
                    await Task.Delay(200);
                }
            }

            async Task KillOneAsync()
            {
                var victim = live[random.Next(live.Count)];
                await WaitCommittedAsync(Math.Min(await SnapshotAsync() + random.Next(3, 12), shards - 8));
                planes.Kill(victim);
                live.Remove(victim);
                Note($"kill -9 of {Path.GetFileName(victim.LogPath)} ({await SnapshotAsync()} of {shards} shards committed)");
                live.Add(planes.Evaluator is null ? await StartPrimaryAsync() : await planes.StartAnotherEvaluatorAsync());
                Note($"started {Path.GetFileName(live[^1].LogPath)}");
            }

            async Task RestartExitedAsync()
            {
                if (planes.Control.HasExited)
                {
                    Note($"{Path.GetFileName(planes.Control.LogPath)} exited");
                    await planes.RestartControlAsync();
                    Note($"started {Path.GetFileName(planes.Control.LogPath)}");
                }

                foreach (var host in live.Where(h => h.HasExited).ToList())
                {
                    planes.Kill(host); // its worker, if it outlived the host
                    live.Remove(host);
                    Note($"{Path.GetFileName(host.LogPath)} exited");
                    live.Add(planes.Evaluator is null ? await StartPrimaryAsync() : await planes.StartAnotherEvaluatorAsync());
                    Note($"started {Path.GetFileName(live[^1].LogPath)}");
                }
            }

            await KillOneAsync();
            await KillOneAsync();

            // The late redelivery: the copied shard's completion is recorded, then its message comes back.
            await WaitCommittedAsync(0);
            while (!attempts.ContainsKey((copyTask, copyShard)))
            {
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), $"{copyTask} shard {copyShard} not committed\n{string.Join('\n', events)}");
                await Task.Delay(200);
                await SnapshotAsync();
            }

            await planes.EvaluationQueue.SendMessageAsync(copy);
            Note($"put the copy of {copyTask} shard {copyShard} back on the evaluation queue");

            // A 30 s storage outage: blobs, queues and tables (Durable's too) gone, then back on the same ports and data.
            await WaitCommittedAsync(Math.Min(await SnapshotAsync() + random.Next(3, 12), shards - 8));
            var atOutage = await SnapshotAsync();
            await planes.Azurite.StopAsync();
            Note($"Azurite stopped ({atOutage} of {shards} shards committed)");
            await Task.Delay(TimeSpan.FromSeconds(30));
            await planes.Azurite.RestartAsync();
            Note("Azurite restarted");

            // The Functions host does not ride out 30 s without storage: a queue listener's receive fails past the storage
            // client's retries ("An unhandled exception has occurred. Host is shutting down.") and the process exits. The
            // platform restarts such a replica (Container Apps' restart policy); here the test does, as each is found gone.
            for (var settle = Stopwatch.StartNew(); settle.Elapsed < TimeSpan.FromSeconds(15);)
            {
                await RestartExitedAsync();
                await Task.Delay(1000);
            }

            JsonElement status;
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
            while (true)
            {
                await RestartExitedAsync();
                try
                {
                    status = await planes.Http.GetFromJsonAsync<JsonElement>($"evaluations/{runId}");
                    if (status.GetProperty("runtimeStatus").GetString() is not ("Pending" or "Running"))
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                    // The control host is starting again.
                }

                Assert.True(DateTime.UtcNow < deadline, $"{runId} not finished\n{string.Join('\n', events)}\n{planes.Control.Tail()}");
                await Task.Delay(500);
            }

            Note($"run {status.GetProperty("runtimeStatus").GetString()}");
            await SnapshotAsync();

            var skipped = EvaluatorLines($"Run {runId}: task {copyTask} shard {copyShard} of {prompts} already committed; not run again");
            var started = tasks.SelectMany(t => Enumerable.Range(0, prompts).Select(i => EvaluatorLines($"Run {runId}: task {t} shard {i} of {prompts} started").Count)).ToList();
            var rerun = started.Count(n => n > 1);
            var redispatched = planes.Controls.SelectMany(c => c.LogLines($"Run {runId}: task ")).Count(l => l.Contains("put on the evaluation queue (dispatch ", StringComparison.Ordinal)
                && !l.Contains("(dispatch 1)", StringComparison.Ordinal));
            output.WriteLine(string.Join('\n', events));
            output.WriteLine(
                $"{shards} shards on {planes.Evaluators.Count - hostsBefore} evaluator hosts over the run: {started.Sum()} shard starts, {rerun} shard(s) run again "
                + $"({started.Sum() - shards} extra starts), {redispatched} re-dispatch(es) by the control plane; the late copy of {copyTask} shard {copyShard} "
                + $"was answered \"already committed; not run again\" {skipped.Count} time(s)");

            Assert.Equal("Completed", status.GetProperty("runtimeStatus").GetString());
            Assert.All(tasks, id => Assert.Equal("committed", States(status)[id]));
            var progress = status.GetProperty("progress");
            Assert.Equal((shards, shards), (progress.GetProperty("shardsDone").GetInt32(), progress.GetProperty("shardsTotal").GetInt32()));

            // The late copy was a no-op: its shard was not started again after its completion was recorded.
            Assert.NotEmpty(skipped);
            Assert.All(started, n => Assert.True(n >= 1));

            // Each shard committed exactly once: one manifest entry per shard (the attempt first seen is the one kept), each
            // naming a part object that exists; no part written before a fault was rewritten after it. A host killed (or
            // shut down by the outage) between a part's upload and the manifest's update leaves that part unreferenced,
            // never read (the trace reads the manifest's parts); the task's commit deletes it, so only one uploaded after
            // its task committed can remain: at most one per host lost.
            var finalParts = await RunAssertions.ShardPartsAsync(planes.ConnectionString, runId);
            var manifest = (await planes.Store.GetManifestAsync(runId))!;
            var referenced = tasks.SelectMany(t => manifest.Tasks[t].Shards!.Select(p => TraceStoreLayout.TraceShard(runId, t, p.Index, p.Attempt))).ToList();
            Assert.Equal(shards, referenced.Distinct().Count());
            Assert.All(referenced, name => Assert.True(finalParts.ContainsKey(name), name));
            Assert.All(parts.Where(p => referenced.Contains(p.Key)), p => Assert.Equal(p.Value, finalParts[p.Key]));
            var deleted = parts.Keys.Except(finalParts.Keys).ToList();
            var orphans = finalParts.Keys.Except(referenced).ToList();
            output.WriteLine($"unreferenced parts (uploads of attempts lost before the manifest update): {deleted.Count} seen and deleted at their task's commit, "
                + $"{orphans.Count} left {string.Join(", ", orphans)}");
            Assert.InRange(orphans.Count, 0, planes.Evaluators.Count - hostsBefore - live.Count);
            foreach (var task in tasks)
            {
                Assert.Equal(Enumerable.Range(0, prompts), manifest.Tasks[task].Shards!.Select(s => s.Index));
                foreach (var part in manifest.Tasks[task].Shards!)
                {
                    Assert.Equal(attempts[(task, part.Index)], part.Attempt);
                }
            }

            // A report over every prompt of every task, and each task's trace whole.
            var report = await planes.Http.GetFromJsonAsync<JsonElement>($"evaluations/{runId}/report");
            Assert.Equal(tasks.Order(StringComparer.Ordinal), report.GetProperty("tasks").EnumerateArray().Select(t => t.GetProperty("taskId").GetString()!).Order(StringComparer.Ordinal));
            Assert.All(report.GetProperty("tasks").EnumerateArray(), t => Assert.Equal(prompts, t.GetProperty("prompts").GetInt32()));
            await RunAssertions.AssertWholeTracesAsync(planes.Store, runId, tasks, prompts);
        }
        catch
        {
            output.WriteLine(string.Join('\n', events));
            output.WriteLine($"control:\n{planes.Control.Tail(150)}");
            throw;
        }
        finally
        {
            // Back to the one evaluator the other tests expect.
            foreach (var host in live.Where(h => !ReferenceEquals(h, planes.Evaluator)))
            {
                planes.Kill(host);
            }
        }

        async Task<FunctionsHost> StartPrimaryAsync()
        {
            await planes.StartEvaluatorAsync();
            return planes.Evaluator!;
        }
    }

    /// <summary>Peeks at the evaluation queue until a shard message of <paramref name="runId"/> shows; returns its raw text (as sent) and its shard.</summary>
    private async Task<(string Raw, string Task, int Shard)> PeekShardMessageAsync(string runId, TimeSpan timeout)
    {
        var queue = planes.EvaluationQueue;
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await queue.ExistsAsync())
            {
                foreach (var message in (await queue.PeekMessagesAsync(32)).Value)
                {
                    var raw = message.Body.ToString();
                    var json = JsonDocument.Parse(Convert.FromBase64String(raw)).RootElement.GetProperty("task");
                    if (json.GetProperty("runId").GetString() == runId && json.TryGetProperty("shard", out var shard) && shard.ValueKind == JsonValueKind.Object)
                    {
                        return (raw, json.GetProperty("taskId").GetString()!, shard.GetProperty("index").GetInt32());
                    }
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"no shard message of {runId} on the evaluation queue\n{planes.Control.Tail()}");
            await Task.Delay(50);
        }
    }

    private async Task<int> WaitForQueuedAsync(int count, TimeSpan timeout)
    {
        var queue = planes.EvaluationQueue;
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await queue.ExistsAsync())
            {
                var properties = await queue.GetPropertiesAsync();
                if (properties.Value.ApproximateMessagesCount >= count)
                {
                    return properties.Value.ApproximateMessagesCount;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"{count} message(s) not on the evaluation queue in {timeout.TotalSeconds:F0} s\n{planes.Control.Tail()}");
            await Task.Delay(250);
        }
    }
}
