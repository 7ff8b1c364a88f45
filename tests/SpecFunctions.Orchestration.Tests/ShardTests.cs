using System.Collections.Concurrent;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;
using SpecFunctions.Onnx;
using Xunit.Abstractions;

namespace SpecFunctions.Orchestration.Tests;

/// <summary>
/// Prompt shards on the in-process Durable engine with real ONNX models: the same task as 1 or 5 shards gives the same
/// statistics and traces, and a cancelled run resumed under its run id re-runs only the shards it had not committed.
/// </summary>
public sealed class ShardTests(TinyModelsFixture models, ITestOutputHelper output) : IClassFixture<TinyModelsFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);

    // Sampling (temperature 0.8), so the per-prompt random streams decide the tokens: sharding must not move them.
    private static EvaluationRequest Request(string runId, int prompts, int? promptsPerShard) => new()
    {
        RunId = runId,
        Suite = new SuiteDefinition
        {
            Name = "shards",
            Tasks =
            [
                new SuiteTask { Id = "t0", Prompts = [.. Enumerable.Range(0, prompts).Select(j => $"prompt {j}: the quick brown fox jumps")] },
            ],
        },
        Verifier = "tiny-verifier",
        Drafter = "tiny-drafter",
        Settings = new EvaluationSettings { Gamma = 3, MaxNewTokens = 16, Temperature = 0.8, Seed = 7, Repeats = 1, PromptsPerShard = promptsPerShard },
        // Every run measures: a second run of the same task must not reuse the first one's trace.
        MeasureAfresh = true,
    };

    private async Task<DurableTaskTestHost> StartAsync(ITraceStore store, IEvaluationObserver? observer = null, int concurrency = 2) =>
        await DurableTaskTestHost.StartAsync(
            registry => registry.AddSpecFunctionsTasks(),
            new DurableTaskTestHostOptions
            {
                ConfigureServices = services =>
                {
                    services.AddSingleton(store);
                    services.AddSingleton(models.Catalog);
                    services.AddSingleton(new OnnxModelOptions { IntraOpThreads = 1 });
                    services.AddSingleton(observer ?? new NullEvaluationObserver());
                    services.AddSpecFunctionsEvaluation(o =>
                    {
                        o.MaxConcurrentEvaluations = concurrency;
                        o.CancellationPollSeconds = 0.05;
                        o.BootstrapResamples = 200;
                    });
                },
            });

    private static async Task<OrchestrationMetadata> RunAsync(DurableTaskClient client, EvaluationRequest request)
    {
        await client.ScheduleNewOrchestrationInstanceAsync(DurableNames.EvaluateSuite, request, new Microsoft.DurableTask.StartOrchestrationOptions(request.RunId));
        using var cts = new CancellationTokenSource(Timeout);
        var state = await client.WaitForInstanceCompletionAsync(request.RunId, getInputsAndOutputs: true, cts.Token);
        Assert.True(state.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{state.RuntimeStatus}: {state.FailureDetails?.ErrorMessage}");
        return state;
    }

    private static TraceStore NewStore() => new(new LocalFolderObjectStore(Directory.CreateTempSubdirectory("specfn-shards-").FullName));

    [Fact]
    public async Task OneTask_AsOneAndAsFiveShards_GivesIdenticalStatisticsAndTraces()
    {
        var store = new FaultyTraceStore(NewStore(), new Dictionary<string, int>());
        await using var host = await StartAsync(store);

        var wholeState = await RunAsync(host.Client, Request("whole", prompts: 10, promptsPerShard: 10));
        var shardedState = await RunAsync(host.Client, Request("sharded", prompts: 10, promptsPerShard: 2));

        // The unsharded run wrote one trace; the sharded one five parts, prompts 0-1, 2-3, … each committed once.
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"t0/{i}"), store.ShardOpens.Keys.Order(StringComparer.Ordinal));
        Assert.All(store.ShardOpens.Values, n => Assert.Equal(1, n));
        var whole = (await store.GetManifestAsync("whole"))!.Tasks["t0"];
        var sharded = (await store.GetManifestAsync("sharded"))!.Tasks["t0"];
        Assert.Null(whole.Shards);
        Assert.Equal(TaskState.Committed, sharded.Status);
        Assert.Equal(5, sharded.Trace!.Parts);
        Assert.Equal([0, 2, 4, 6, 8], sharded.Shards!.Select(s => s.FirstPrompt));
        Assert.Equal(whole.ContentKey, sharded.ContentKey);
        Assert.Equal((whole.Records, whole.Steps), (sharded.Records, sharded.Steps));

        // Identical acceptance traces: every record, timings aside, in the same order.
        var wholeTrace = await Comparable(store.ReadTraceAsync("whole", "t0"));
        var shardedTrace = await Comparable(store.ReadTraceAsync("sharded", "t0"));
        Assert.Equal(10 * 2 + (int)whole.Steps, wholeTrace.Count);
        Assert.Equal(wholeTrace, shardedTrace);

        // Identical statistics: every figure that does not depend on a timing, intervals included, and U.
        var a = (await ReportPublisher.ReadAsync(store, "whole"))!;
        var b = (await ReportPublisher.ReadAsync(store, "sharded"))!;
        var (ta, tb) = (a.Tasks.Single(), b.Tasks.Single());
        output.WriteLine($"alpha {ta.Alpha} {ta.AlphaCi}, D {ta.CrossEntropy}, steps {ta.Steps}; sharded: alpha {tb.Alpha}, D {tb.CrossEntropy}");
        Assert.Equal(Statistics(ta), Statistics(tb));
        Assert.Equal(a.Suite.Fairness.Unfairness, b.Suite.Fairness.Unfairness);
        Assert.True(ta.Steps > 10 && ta.Alpha is > 0 and < 1, $"the runs measured nothing: {ta.Steps} steps, alpha {ta.Alpha}");

        // The merged summary covers the task; the progress counts its shards and prompts.
        var outcome = shardedState.ReadOutputAs<EvaluationOutcome>()!;
        var summary = outcome.Tasks.Single();
        Assert.Equal((TaskOutcome.Committed, 10, 5, ta.Steps, ta.GeneratedTokens), (summary.Status, summary.Prompts, summary.Shards, summary.Steps, summary.GeneratedTokens));
        Assert.Equal(ta.Alpha, summary.Alpha!.Value, 12);
        Assert.Equal(ta.CrossEntropy, summary.CrossEntropy!.Value, 12);
        var progress = shardedState.ReadCustomStatusAs<EvaluationProgress>()!;
        Assert.Equal((EvaluationPhase.Done, 1, 1, 5, 5, 10, 10), (progress.Phase, progress.TasksDone, progress.TasksTotal, progress.ShardsDone, progress.ShardsTotal, progress.PromptsDone, progress.PromptsTotal));
        var wholeProgress = wholeState.ReadCustomStatusAs<EvaluationProgress>()!;
        Assert.Equal((1, 1, 10), (wholeProgress.ShardsDone, wholeProgress.ShardsTotal, wholeProgress.PromptsDone));
    }

    [Fact]
    public async Task CancelledRun_ResumedUnderItsRunId_RerunsOnlyTheShardsItHadNotCommitted()
    {
        var inner = NewStore();
        var first = new FaultyTraceStore(inner, new Dictionary<string, int>());
        var observer = new CancelAfterShards(2);
        var request = Request("resume", prompts: 10, promptsPerShard: 2);
        await using (var host = await StartAsync(first, observer, concurrency: 1))
        {
            observer.Cancel = () =>
            {
                first.RequestAsync("resume", "cancelled by request", DateTimeOffset.UtcNow).GetAwaiter().GetResult();
                host.Client.RaiseEventAsync("resume", DurableNames.CancelEvent, "cancelled by request").GetAwaiter().GetResult();
            };
            var cancelled = (await RunAsync(host.Client, request)).ReadOutputAs<EvaluationOutcome>()!;
            Assert.True(cancelled.Cancelled);
            Assert.Equal(TaskOutcome.Cancelled, cancelled.Tasks.Single().Status);
        }

        var before = (await inner.GetManifestAsync("resume"))!.Tasks["t0"];
        var committed = before.Shards!.ToDictionary(s => s.Index, s => s.Attempt);
        output.WriteLine($"cancelled with shards [{string.Join(", ", committed.Keys.Order())}] committed");
        Assert.InRange(committed.Count, 2, 4);
        Assert.False(before.HasCommittedTrace);

        // Resume: the cancel request withdrawn, the same request under the same run id on a fresh engine (as the CLI's
        // `specfn run --run-id` does after a kill or a cancel).
        await inner.ClearAsync("resume");
        var second = new FaultyTraceStore(inner, new Dictionary<string, int>());
        var resumedObserver = new CancelAfterShards(int.MaxValue);
        await using (var host = await StartAsync(second, resumedObserver))
        {
            var state = await RunAsync(host.Client, request);
            var outcome = state.ReadOutputAs<EvaluationOutcome>()!;
            Assert.False(outcome.Cancelled);
            Assert.Equal((TaskOutcome.Committed, 10, 5), (outcome.Tasks.Single().Status, outcome.Tasks.Single().Prompts, outcome.Tasks.Single().Shards));
        }

        // Only the shards that had not been committed ran again, once each; the committed parts were kept as written.
        var rerun = Enumerable.Range(0, 5).Where(i => !committed.ContainsKey(i)).Select(i => $"t0/{i}").ToList();
        Assert.Equal(rerun, second.ShardOpens.Keys.Order(StringComparer.Ordinal));
        Assert.All(second.ShardOpens.Values, n => Assert.Equal(1, n));
        Assert.Equal(rerun.Count, resumedObserver.Started.Count);
        var after = (await inner.GetManifestAsync("resume"))!.Tasks["t0"];
        Assert.Equal(TaskState.Committed, after.Status);
        Assert.All(committed, kv => Assert.Equal(kv.Value, after.Shards!.Single(s => s.Index == kv.Key).Attempt));

        // The resumed run's trace is the uninterrupted run's.
        await using var reference = await StartAsync(inner);
        await RunAsync(reference.Client, Request("uninterrupted", prompts: 10, promptsPerShard: 10));
        Assert.Equal(await Comparable(inner.ReadTraceAsync("uninterrupted", "t0")), await Comparable(inner.ReadTraceAsync("resume", "t0")));
        var (ra, rb) = ((await ReportPublisher.ReadAsync(inner, "uninterrupted"))!.Tasks.Single(), (await ReportPublisher.ReadAsync(inner, "resume"))!.Tasks.Single());
        Assert.Equal(Statistics(ra), Statistics(rb));
    }

    /// <summary>A trace's records as JSON with every timing zeroed (the step-cost profile kept as "measured or not").</summary>
    private static async Task<List<string>> Comparable(IAsyncEnumerable<TraceRecord> records) =>
        await records.Select(r => TraceJson.Serialize(r switch
        {
            StepTrace s => s with { DrafterMs = 0, VerifierMs = 0 },
            PromptTrace p => p with
            {
                SpeculativeMs = 0,
                BaselineMs = p.BaselineMs is null ? null : 0,
                BaselineStepMs = p.BaselineStepMs is null ? null : 0,
                SpeculativeRepeatsMs = null,
                BaselineRepeatsMs = null,
                VerifierCallMs = p.VerifierCallMs is null ? null : new double[p.VerifierCallMs.Length],
                StepMsByGamma = p.StepMsByGamma is null ? null : new double[p.StepMsByGamma.Length],
            },
            _ => r,
        })).ToListAsync();

    private static string Statistics(TaskReport t) => System.Text.Json.JsonSerializer.Serialize(new
    {
        t.Prompts, t.Steps, t.DraftedTokens, t.AcceptedTokens, t.GeneratedTokens,
        t.AcceptanceRate, t.AcceptanceRateCi, t.Alpha, t.AlphaCi, t.CrossEntropy, t.CrossEntropyCi, t.Kl, t.KlCi,
        t.MeanAcceptedLength, t.MeanAcceptedLengthCi, t.AcceptanceRateByPosition, t.AcceptedPastPosition,
    });

    /// <summary>Counts shard starts; asks for the run's cancellation once <c>shards</c> shards have finished.</summary>
    private sealed class CancelAfterShards(int shards) : IEvaluationObserver
    {
        private int _finished;

        public Action? Cancel { get; set; }

        public ConcurrentBag<int> Started { get; } = [];

        public void TaskStarted(string runId, string taskId, int prompts)
        {
        }

        public void PromptCompleted(string runId, string taskId, int completed, int total)
        {
        }

        public void ShardStarted(string runId, string taskId, ShardRange shard) => Started.Add(shard.Index);

        public void ShardPromptCompleted(string runId, string taskId, ShardRange shard, int completed)
        {
        }

        public void TaskCompleted(string runId, TaskSummary summary)
        {
            if (summary.Shard is not null && summary.Status == TaskOutcome.Committed && Interlocked.Increment(ref _finished) == shards)
            {
                Cancel?.Invoke();
            }
        }
    }
}
