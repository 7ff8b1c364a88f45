using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;
using SpecFunctions.Tests.Shared;
using Xunit.Abstractions;

namespace SpecFunctions.Functions.EndToEnd.Tests;

/// <summary>
/// The published app on a real Functions host with Azurite, driven as a user drives it: HTTP with keys, Durable
/// orchestrations on Azure Storage, the audit timer, and a hard kill of host and worker. Tests of one class run one after
/// another; each uses its own run ids, and a test that changes shared state (the audit registry, the host process)
/// restores it before it ends.
/// </summary>
[Collection(FunctionsAppCollection.Name)]
[Trait("Requires", "functions-host")]
public sealed class EndToEndTests(FunctionsAppFixture app, ITestOutputHelper output)
{
    internal static readonly string[] Languages = ["en", "es", "fr", "de", "ru", "zh"];

    internal static readonly Dictionary<string, string> Openings = new()
    {
        ["en"] = "The weather today is",
        ["es"] = "El tiempo hoy es",
        ["fr"] = "Le temps aujourd'hui est",
        ["de"] = "Das Wetter heute ist",
        ["ru"] = "Сегодня погода",
        ["zh"] = "今天的天气",
    };

    /// <summary>A submission body: <paramref name="tasks"/> languages, <paramref name="prompts"/> prompts each, a fixed token budget.</summary>
    internal static string Submission(string runId, int tasks, int prompts, int tokens, string suite = "e2e") =>
        new JsonObject
        {
            ["runId"] = runId,
            ["suite"] = new JsonObject
            {
                ["name"] = suite,
                ["tasks"] = new JsonArray(Languages.Take(tasks).Select(l => (JsonNode)new JsonObject
                {
                    ["id"] = l,
                    ["prompts"] = new JsonArray(Enumerable.Range(1, prompts).Select(i => (JsonNode)$"{Openings[l]} {i}").ToArray()),
                }).ToArray()),
            },
            ["verifier"] = "demo-verifier",
            ["drafter"] = "demo-drafter",
            ["settings"] = new JsonObject { ["gamma"] = 4, ["maxNewTokens"] = tokens, ["ignoreEos"] = true },
        }.ToJsonString();

    private async Task<HttpResponseMessage> SubmitAsync(string body) =>
        await app.Http.PostAsync("evaluations", new StringContent(body, Encoding.UTF8, "application/json"));

    [Fact]
    public async Task Keys_NoKeyOrWrongKey401_MasterKeyAccepted()
    {
        using var anonymous = new HttpClient { BaseAddress = app.Http.BaseAddress };
        var body = Submission("keys-1", 1, 1, 8);

        var none = await anonymous.PostAsync("evaluations", new StringContent(body, Encoding.UTF8, "application/json"));
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "evaluations/keys-1") { Headers = { { "x-functions-key", "not-the-key" } } };
        var wrongKey = await anonymous.SendAsync(wrong);
        var status = await anonymous.GetAsync("evaluations/keys-1");

        if (!FunctionsHost.EnforcesKeys)
        {
            // Core Tools' `func start` skips function keys locally (docs/functions.md): the submission went through.
            Assert.Equal(HttpStatusCode.Accepted, none.StatusCode);
            await app.WaitFinishedAsync("keys-1", TimeSpan.FromMinutes(2));
            return;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, status.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Http.GetAsync("evaluations/keys-1")).StatusCode);
        Assert.Null(await app.Store.GetManifestAsync("keys-1"));
    }

    public static TheoryData<string, string, string> BadBodies => new()
    {
        { "bad-json", """{"runId":"bad-json","suite":""", "$" },
        { "bad-unknown-field", Submission("bad-unknown-field", 1, 1, 8).Replace("\"verifier\"", "\"colour\":\"red\",\"verifier\"", StringComparison.Ordinal), "colour" },
        { "bad-gamma", Submission("bad-gamma", 1, 1, 8).Replace("\"gamma\":4", "\"gamma\":0", StringComparison.Ordinal), "settings.gamma" },
        { "bad-model", Submission("bad-model", 1, 1, 8).Replace("\"demo-drafter\"", "\"no-such-model\"", StringComparison.Ordinal), "drafter" },
        { "bad-prompts", Submission("bad-prompts", 1, 1, 8).Replace("\"The weather today is 1\"", "\"   \"", StringComparison.Ordinal), "suite.tasks[0].prompts[0]" },
        { "bad-tokens", Submission("bad-tokens", 1, 1, 8).Replace("\"maxNewTokens\":8", "\"maxNewTokens\":\"8\"", StringComparison.Ordinal), "settings.maxNewTokens" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadBody_400ProblemJsonNamingTheField_NothingScheduledOrWritten(string runId, string body, string field)
    {
        var response = await SubmitAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Contains(problem.GetProperty("errors").EnumerateObject(), e => e.Name == field);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Http.GetAsync($"evaluations/{runId}")).StatusCode);
        Assert.Null(await app.Store.GetManifestAsync(runId));
        Assert.Empty(await RunBlobsAsync(runId));
    }

    [Fact]
    public async Task Submit_PollUntilDone_ReportEqualsCliReadingSameAzurite_HtmlServed_BlobsPresent_BodiesCamelCase()
    {
        var clock = Stopwatch.StartNew();
        var submitted = await SubmitAsync(Submission("e2e-submit-1", 3, 3, 24));

        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        Assert.Equal($"http://127.0.0.1:{app.Port}/api/evaluations/e2e-submit-1", submitted.Headers.Location?.ToString());
        Assert.NotNull(submitted.Headers.RetryAfter);
        var status = await app.WaitFinishedAsync("e2e-submit-1", TimeSpan.FromMinutes(3));
        output.WriteLine($"submit → Completed in {clock.Elapsed.TotalSeconds:F1} s (3 tasks × 3 prompts × 24 tokens)");

        var done = await app.Http.GetAsync("evaluations/e2e-submit-1");
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        Assert.Equal("Completed", status.GetProperty("runtimeStatus").GetString());
        Assert.Equal("done", status.GetProperty("progress").GetProperty("phase").GetString());
        var outcome = status.GetProperty("output");
        Assert.Equal("e2e-submit-1", outcome.GetProperty("runId").GetString());
        Assert.Equal(["en", "es", "fr"], outcome.GetProperty("tasks").EnumerateArray().Select(t => t.GetProperty("taskId").GetString()));
        Assert.All(outcome.GetProperty("tasks").EnumerateArray(), t => Assert.Equal("committed", t.GetProperty("status").GetString()));
        AssertCamelCase(status);

        // The report the API serves is the one the CLI reads from the same storage.
        var reportText = await app.Http.GetStringAsync("evaluations/e2e-submit-1/report");
        var cli = await CliAsync("report", "e2e-submit-1", "--blob-connection", app.ConnectionString, "--json");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(reportText), JsonNode.Parse(cli)), $"HTTP report:\n{reportText}\nCLI report:\n{cli}");
        var report = JsonDocument.Parse(reportText).RootElement;
        Assert.Equal(3, report.GetProperty("tasks").GetArrayLength());
        Assert.All(report.GetProperty("tasks").EnumerateArray(), t => Assert.InRange(t.GetProperty("alpha").GetDouble(), 0.01, 1.0));

        var html = await app.Http.GetAsync("evaluations/e2e-submit-1/report?format=html");
        Assert.Equal("text/html", html.Content.Headers.ContentType?.MediaType);
        var page = await html.Content.ReadAsStringAsync();
        Assert.Contains("e2e-submit-1", page, StringComparison.Ordinal);
        Assert.Contains("<svg", page, StringComparison.Ordinal);

        var blobs = await RunBlobsAsync("e2e-submit-1");
        string[] expected =
        [
            "runs/e2e-submit-1/created.json", "runs/e2e-submit-1/manifest.json", "runs/e2e-submit-1/report.html", "runs/e2e-submit-1/report.json", "runs/e2e-submit-1/tasks.csv",
            "runs/e2e-submit-1/tasks/en/trace.jsonl.gz", "runs/e2e-submit-1/tasks/es/trace.jsonl.gz", "runs/e2e-submit-1/tasks/fr/trace.jsonl.gz",
        ];
        Assert.Equal(expected, blobs);
        await AssertWholeTracesAsync("e2e-submit-1", ["en", "es", "fr"], prompts: 3);
    }

    [Fact]
    public async Task Cancel_TasksNotStartedAreNotEvaluated_RunningOneStopsBetweenPrompts_ReportListsCancelled_ResubmitCompletesTheRest()
    {
        const string runId = "e2e-cancel-1";

        // Tasks of several seconds each, so the one running when the cancel arrives is caught mid-way (the activity checks
        // for a cancellation every 2 s, Evaluation:CancellationPollSeconds).
        const int prompts = 64;
        var body = Submission(runId, 4, prompts, 256);
        Assert.Equal(HttpStatusCode.Accepted, (await SubmitAsync(body)).StatusCode);

        // Cancel while one task is committed and the next one is being evaluated.
        var atCancel = await WaitForManifestAsync(runId, m => m.Tasks.Values.Count(t => t.Status == TaskState.Committed) >= 1
            && m.Tasks.Values.Any(t => t.Status == TaskState.Running), TimeSpan.FromMinutes(3));
        var running = atCancel.Tasks.Values.Single(t => t.Status == TaskState.Running).TaskId;
        var committed = atCancel.Tasks.Values.Where(t => t.Status == TaskState.Committed).Select(t => t.TaskId).ToHashSet();
        var notStarted = atCancel.Tasks.Values.Where(t => t.Status == TaskState.Pending).Select(t => t.TaskId).ToHashSet();
        var clock = Stopwatch.StartNew();
        var cancel = await app.Http.PostAsync($"evaluations/{runId}/cancel", null);
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var status = await app.WaitFinishedAsync(runId, TimeSpan.FromMinutes(2));
        output.WriteLine($"cancel → finished in {clock.Elapsed.TotalSeconds:F1} s; committed before {string.Join(",", committed)}, running {running}, not started {string.Join(",", notStarted)}");

        Assert.Equal("Completed", status.GetProperty("runtimeStatus").GetString());
        Assert.Equal("cancelled", status.GetProperty("progress").GetProperty("phase").GetString());
        var outcome = status.GetProperty("output");
        Assert.True(outcome.GetProperty("cancelled").GetBoolean());
        var states = outcome.GetProperty("tasks").EnumerateArray().ToDictionary(t => t.GetProperty("taskId").GetString()!, t => t.GetProperty("status").GetString());
        Assert.All(committed, id => Assert.Equal("committed", states[id]));
        Assert.All(notStarted, id => Assert.Equal("cancelled", states[id]));
        Assert.NotEmpty(notStarted);
        Assert.Equal("cancelled", states[running]);

        // Not started: never evaluated. Running: stopped after some of its prompts, nothing committed.
        Assert.All(notStarted, id => Assert.Single(app.Host.LogLines($"Run {runId}: task {id} cancelled after 0 prompt(s)")));
        var stopped = Assert.Single(app.Host.LogLines($"Run {runId}: task {running} cancelled after"));
        var after = RunAssertions.PromptsBeforeCancel(stopped);
        Assert.InRange(after, 1, prompts - 1);
        var manifest = (await app.Store.GetManifestAsync(runId))!;
        Assert.All(notStarted.Append(running), id => Assert.Equal(TaskState.Cancelled, manifest.Tasks[id].Status));
        var blobs = await RunBlobsAsync(runId);
        Assert.DoesNotContain(blobs, b => b.Contains($"/tasks/{running}/", StringComparison.Ordinal) || notStarted.Any(n => b.Contains($"/tasks/{n}/", StringComparison.Ordinal)));

        var report = await app.Http.GetFromJsonAsync<JsonElement>($"evaluations/{runId}/report");
        Assert.Equal(committed.Order(), report.GetProperty("tasks").EnumerateArray().Select(t => t.GetProperty("taskId").GetString()!).Order());
        var incomplete = report.GetProperty("incompleteTasks").EnumerateArray().ToDictionary(t => t.GetProperty("taskId").GetString()!, t => t.GetProperty("status").GetString());
        Assert.Equal(notStarted.Append(running).Order(), incomplete.Keys.Order());
        Assert.All(incomplete.Values, s => Assert.Equal("cancelled", s));

        // A re-submission of the cancelled run starts it again: committed tasks are reused, the rest evaluated.
        clock.Restart();
        Assert.Equal(HttpStatusCode.Accepted, (await SubmitAsync(body)).StatusCode);
        var retried = await app.PollAsync($"evaluations/{runId}", s => s.GetProperty("runtimeStatus").GetString() == "Completed"
            && s.GetProperty("output").GetProperty("cancelled").GetBoolean() == false, TimeSpan.FromMinutes(4));
        output.WriteLine($"re-submit → Completed in {clock.Elapsed.TotalSeconds:F1} s");
        var again = retried.GetProperty("output").GetProperty("tasks").EnumerateArray().ToDictionary(t => t.GetProperty("taskId").GetString()!, t => t.GetProperty("status").GetString());
        Assert.All(committed, id => Assert.Equal("reused", again[id]));
        Assert.All(notStarted.Append(running), id => Assert.Equal("committed", again[id]));
        Assert.False(await app.Store.IsRequestedAsync(runId));
        var full = await app.Http.GetFromJsonAsync<JsonElement>($"evaluations/{runId}/report");
        Assert.Equal(4, full.GetProperty("tasks").GetArrayLength());
        Assert.Equal(0, full.GetProperty("incompleteTasks").GetArrayLength());
        await AssertWholeTracesAsync(runId, Languages.Take(4).ToList(), prompts);
    }

    [Fact]
    public async Task CancelWhileAShardRuns_InProcess_ItStopsBetweenPrompts_LaterShardsNeverStart_CommittedKept_ResubmitRunsOnlyTheRest()
    {
        const string runId = "e2e-shard-cancel", task = "en";
        const int prompts = 96, perShard = 24, shards = prompts / perShard;
        var body = JsonNode.Parse(Submission(runId, 1, prompts, 128))!;
        body["settings"]!["promptsPerShard"] = perShard;
        Assert.Equal(HttpStatusCode.Accepted, (await SubmitAsync(body.ToJsonString())).StatusCode);

        // Cancel while a shard runs, with one committed before it and at least one not started.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        Dictionary<(string Task, int Shard), string> committedBefore;
        (string Task, int Shard) inFlight;
        while (true)
        {
            committedBefore = await RunAssertions.CommittedShardsAsync(app.Store, runId);
            var running = RunAssertions.StartedShards(app.Host, runId).Where(s => !committedBefore.ContainsKey(s)).ToList();
            if (committedBefore.Count >= 1 && running.Count == 1 && committedBefore.Count < shards - 1)
            {
                inFlight = running[0];
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"never a shard running after one committed\n{app.Host.Tail()}");
            await Task.Delay(100);
        }

        var partsBefore = await RunAssertions.ShardPartsAsync(app.ConnectionString, runId);
        Assert.Equal(HttpStatusCode.Accepted, (await app.Http.PostAsync($"evaluations/{runId}/cancel", null)).StatusCode);
        var status = await app.WaitFinishedAsync(runId, TimeSpan.FromMinutes(2));
        var committedAfter = await RunAssertions.CommittedShardsAsync(app.Store, runId);
        output.WriteLine($"cancel with [{RunAssertions.Describe(committedBefore.Keys)}] committed and {task}#{inFlight.Shard} running: "
            + $"[{RunAssertions.Describe(committedAfter.Keys)}] committed at the end; {string.Join("; ", app.Host.LogLines($"Run {runId}: task {task} shard {inFlight.Shard} of {shards} cancelled"))}");

        Assert.Equal("Completed", status.GetProperty("runtimeStatus").GetString());
        Assert.Equal("cancelled", status.GetProperty("progress").GetProperty("phase").GetString());
        Assert.True(status.GetProperty("output").GetProperty("cancelled").GetBoolean());
        Assert.Equal("cancelled", status.GetProperty("output").GetProperty("tasks")[0].GetProperty("status").GetString());
        Assert.Equal(TaskState.Cancelled, (await app.Store.GetManifestAsync(runId))!.Tasks[task].Status);

        // The committed shard stays as it was; the running one stopped between prompts (or, had it finished before its
        // next cancellation poll, committed once); the ones behind it were answered cancelled without starting.
        Assert.All(committedBefore, c => Assert.Equal(c.Value, committedAfter[c.Key]));
        var partsAfter = await RunAssertions.ShardPartsAsync(app.ConnectionString, runId);
        Assert.All(partsBefore, p => Assert.Equal(p.Value, partsAfter[p.Key]));
        if (!committedAfter.ContainsKey(inFlight))
        {
            var stopped = Assert.Single(app.Host.LogLines($"Run {runId}: task {task} shard {inFlight.Shard} of {shards} cancelled after"));
            Assert.InRange(RunAssertions.PromptsBeforeCancel(stopped), 0, perShard - 1);
        }

        var behind = Enumerable.Range(0, shards).Select(i => (Task: task, Shard: i)).Where(s => !committedAfter.ContainsKey(s) && s != inFlight).ToList();
        Assert.NotEmpty(behind);
        Assert.All(behind, s => Assert.Single(app.Host.LogLines($"Run {runId}: task {task} shard {s.Shard} of {shards} cancelled after 0 prompt(s)")));
        var started = RunAssertions.StartedShards(app.Host, runId);
        Assert.All(behind, s => Assert.DoesNotContain(s, started));
        Assert.Equal(committedAfter.Select(c => TraceStoreLayout.TraceShard(runId, task, c.Key.Shard, c.Value)).Order(StringComparer.Ordinal), partsAfter.Keys.Order(StringComparer.Ordinal));

        // Submitted again: only the shards not committed run, once each; the trace reads every prompt once, in order.
        Assert.Equal(HttpStatusCode.Accepted, (await SubmitAsync(body.ToJsonString())).StatusCode);
        var resumed = await app.PollAsync($"evaluations/{runId}", s => s.GetProperty("runtimeStatus").GetString() == "Completed"
            && s.GetProperty("output").GetProperty("cancelled").GetBoolean() == false, TimeSpan.FromMinutes(4));
        Assert.Equal("committed", resumed.GetProperty("output").GetProperty("tasks")[0].GetProperty("status").GetString());
        var final = await RunAssertions.CommittedShardsAsync(app.Store, runId);
        Assert.Equal(shards, final.Count);
        Assert.All(committedAfter, c => Assert.Equal(c.Value, final[c.Key]));
        var startedAgain = RunAssertions.StartedShards(app.Host, runId).Skip(started.Count).ToList();
        Assert.Equal(final.Keys.Except(committedAfter.Keys).Order(), startedAgain.Order());
        Assert.Equal(shards, (await RunAssertions.ShardPartsAsync(app.ConnectionString, runId)).Count);
        await AssertWholeTracesAsync(runId, [task], prompts);
    }

    [Fact]
    public async Task KillHostAndWorkerMidRun_Restart_RunCompletes_CommittedTasksNotEvaluatedAgain_InFlightOneIs_NoTornTrace()
    {
        const string runId = "e2e-kill-1";
        const int prompts = 32;
        Assert.Equal(HttpStatusCode.Accepted, (await SubmitAsync(Submission(runId, 5, prompts, 176))).StatusCode);
        var before = await WaitForManifestAsync(runId, m => m.Tasks.Values.Count(t => t.Status == TaskState.Committed) >= 2
            && m.Tasks.Values.Any(t => t.Status == TaskState.Running), TimeSpan.FromMinutes(3));
        var inFlight = before.Tasks.Values.Single(t => t.Status == TaskState.Running).TaskId;
        var committedBefore = before.Tasks.Values.Where(t => t.Status == TaskState.Committed).ToDictionary(t => t.TaskId);

        app.Host.KillHard();
        var killedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var firstLog = app.Host;
        await app.StartHostAsync();
        var restartSeconds = clock.Elapsed.TotalSeconds;
        var resumed = await WaitForManifestAsync(runId, m => m.Tasks[inFlight].UpdatedAt > killedAt, TimeSpan.FromMinutes(8));
        var resumeSeconds = clock.Elapsed.TotalSeconds;
        var status = await app.WaitFinishedAsync(runId, TimeSpan.FromMinutes(5));
        output.WriteLine(
            $"kill -9 with {committedBefore.Count} of 5 tasks committed ({string.Join(",", committedBefore.Keys.Order())}), {inFlight} in flight; "
            + $"host back in {restartSeconds:F1} s, in-flight task restarted {resumeSeconds:F1} s after the kill, run completed {clock.Elapsed.TotalSeconds:F1} s after it");
        _ = resumed;

        Assert.Equal("Completed", status.GetProperty("runtimeStatus").GetString());
        var states = status.GetProperty("output").GetProperty("tasks").EnumerateArray().ToDictionary(t => t.GetProperty("taskId").GetString()!, t => t.GetProperty("status").GetString());
        Assert.Equal(5, states.Count);
        Assert.All(states.Values, s => Assert.Equal("committed", s));
        var after = (await app.Store.GetManifestAsync(runId))!;
        foreach (var (id, entry) in committedBefore)
        {
            // Untouched since the kill: same trace, same commit time; and the new host never evaluated it.
            Assert.Equal(entry, after.Tasks[id]);
            Assert.Empty(app.Host.LogLines($"Run {runId}: task {id} "));
        }

        Assert.Single(app.Host.LogLines($"Run {runId}: task {inFlight} committed"));
        Assert.Empty(firstLog.LogLines($"Run {runId}: task {inFlight} committed"));
        await AssertWholeTracesAsync(runId, Languages.Take(5).ToList(), prompts);
        firstLog.Dispose();
    }

    [Fact]
    public async Task NightlyAudit_FiresOnSchedule_MeasuresAfresh_ComparesWithThePreviousAuditOfTheSuite()
    {
        const string suite = "e2e-audit";
        var body = Submission("e2e-pre-audit", 2, 2, 16, suite: "audit-suite");

        // The same suite evaluated once by hand: an audit must not reuse these traces.
        Assert.Equal(HttpStatusCode.Accepted, (await SubmitAsync(body)).StatusCode);
        await app.WaitFinishedAsync("e2e-pre-audit", TimeSpan.FromMinutes(2));
        var clock = Stopwatch.StartNew();
        try
        {
            var registered = await app.Http.PutAsync($"audit/suites/{suite}", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, registered.StatusCode);

            // Three ticks: the first and second schedule a run each, the next one compares the second with the first.
            var listed = await app.PollAsync("audit/suites", s => AuditRuns(s, suite).Count >= 2, TimeSpan.FromMinutes(2));
            var runs = AuditRuns(listed, suite);
            var (first, second) = (runs[0], runs[1]);
            var report = await PollReportAsync(second, r => r.TryGetProperty("regression", out var g) && g.ValueKind == JsonValueKind.Object, TimeSpan.FromMinutes(2));
            output.WriteLine($"audit: {first} and {second} scheduled, {second} compared with {first} {clock.Elapsed.TotalSeconds:F1} s after registering");

            Assert.StartsWith($"audit-{suite}-", first, StringComparison.Ordinal);
            Assert.Equal(first, report.GetProperty("regression").GetProperty("previousRunId").GetString());
            foreach (var run in new[] { first, second })
            {
                var manifest = (await app.Store.GetManifestAsync(run))!;
                Assert.All(manifest.Tasks.Values, t => Assert.Equal(TaskState.Committed, t.Status));
                Assert.All(manifest.Tasks.Values, t => Assert.Equal(run, t.Trace!.RunId));
            }

            // Same content key as the hand-made run (same models, prompts, settings), yet measured again.
            var manual = (await app.Store.GetManifestAsync("e2e-pre-audit"))!;
            var audited = (await app.Store.GetManifestAsync(second))!;
            Assert.Equal(manual.Tasks["en"].ContentKey, audited.Tasks["en"].ContentKey);
            var html = await app.Http.GetStringAsync($"evaluations/{second}/report?format=html");
            Assert.Contains(first, html, StringComparison.Ordinal);
        }
        finally
        {
            // Stop further audits for the tests that follow.
            await new BlobContainerClient(app.ConnectionString, TraceStoreLayout.DefaultContainerName).DeleteBlobIfExistsAsync(TraceStoreLayout.SuiteRegistry);
        }
    }

    private static List<string> AuditRuns(JsonElement list, string suite) =>
        list.GetProperty("suites").EnumerateArray().Where(s => s.GetProperty("name").GetString() == suite)
            .SelectMany(s => s.GetProperty("runs").EnumerateArray().Select(r => r.GetString()!)).ToList();

    private async Task<JsonElement> PollReportAsync(string runId, Func<JsonElement, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var response = await app.Http.GetAsync($"evaluations/{runId}/report");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var report = await response.Content.ReadFromJsonAsync<JsonElement>();
                if (done(report))
                {
                    return report;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"report of {runId} not as expected in {timeout.TotalSeconds:F0} s\n{app.Host.Tail()}");
            await Task.Delay(500);
        }
    }

    private Task<RunManifest> WaitForManifestAsync(string runId, Func<RunManifest, bool> done, TimeSpan timeout) =>
        RunAssertions.WaitForManifestAsync(app.Store, runId, done, timeout, () => app.Host.Tail());

    private Task AssertWholeTracesAsync(string runId, IReadOnlyList<string> tasks, int prompts) => RunAssertions.AssertWholeTracesAsync(app.Store, runId, tasks, prompts);

    private Task<List<string>> RunBlobsAsync(string runId) => RunAssertions.RunBlobsAsync(app.ConnectionString, runId);

    /// <summary>No property name in the body starts with an upper-case letter (the Durable output included).</summary>
    private static void AssertCamelCase(JsonElement element, string path = "$")
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Assert.False(char.IsUpper(property.Name[0]), $"{path}.{property.Name} is not camelCase");
                    AssertCamelCase(property.Value, $"{path}.{property.Name}");
                }

                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    AssertCamelCase(item, $"{path}[{i++}]");
                }

                break;
        }
    }

    /// <summary>Runs the CLI built by test.sh (<c>specfn</c>, Release) and returns its standard output.</summary>
    private static async Task<string> CliAsync(params string[] arguments)
    {
        var cli = Path.Combine(FunctionsAppFixture.RepositoryRoot, "src", "SpecFunctions.Cli", "bin", "Release", "net10.0", "specfn.dll");
        Assert.True(File.Exists(cli), $"{cli} is missing: build the solution in Release first (test.sh does)");
        var result = await DotnetCommand.RunAsync(null, [cli, .. arguments]);
        Assert.True(result.Succeeded, $"specfn {string.Join(' ', arguments)}: {result}");
        return result.Output;
    }
}
