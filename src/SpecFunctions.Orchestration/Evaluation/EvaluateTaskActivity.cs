using System.Diagnostics;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;
using SpecFunctions.Onnx;

namespace SpecFunctions.Orchestration;

/// <summary>
/// Runs one task: speculative decoding and the verifier-only baseline over its prompts, streaming the trace to the
/// store; a task whose content key already has a committed trace is reused, not recomputed (from any run, or only from
/// this one when <see cref="EvaluateTaskInput.ReuseAcrossRuns"/> is off). With <see cref="EvaluateTaskInput.Shard"/> it runs
/// one shard of a task: the shard's prompts under the task's protocol (<see cref="TaskRunner.FirstPromptIndex"/>: random
/// streams and the step-cost profile prompts by index in the task), committed as a part of its own; a shard already
/// committed is not run again. A task of a cancelled run
/// (<see cref="RunCancellation"/>) does not start, and a running one stops between prompts without committing.
/// </summary>
public sealed class EvaluateTaskActivity(
    ITraceStore store, ModelCache models, EvaluationGate gate, IEvaluationObserver observer, IOptions<EvaluationOptions> options,
    ILogger<EvaluateTaskActivity> logger)
    : TaskActivity<EvaluateTaskInput, TaskSummary>
{
    public override async Task<TaskSummary> RunAsync(TaskActivityContext context, EvaluateTaskInput input)
    {
        using var activity = EvaluationTelemetry.Source.StartActivity("EvaluateTask");
        activity?.SetTag("specfn.run_id", input.RunId);
        activity?.SetTag("specfn.task_id", input.TaskId);
        using var slot = await gate.WaitAsync().ConfigureAwait(false);
        if (await store.IsRequestedAsync(input.RunId).ConfigureAwait(false))
        {
            return await CancelledAsync(input, 0).ConfigureAwait(false);
        }

        var started = DateTimeOffset.UtcNow;
        var shard = input.Shard;
        if (shard is not null && await StoredShardAsync(input, shard).ConfigureAwait(false) is { } stored)
        {
            return stored;
        }

        var (drafter, drafterId, verifier, verifierId) = models.GetPair(input.Drafter, input.Verifier);
        // γ = 0 is plain decoding: timed without the drafter, with an untimed γ = 1 pass for the task's statistics.
        var gamma = input.Gamma ?? input.Settings.Gamma;
        var decoding = EvaluationDefaults.ToDecodingOptions(input.Settings with { Gamma = Math.Max(1, gamma) }, verifier);
        var prompts = input.Prompts.Select(p => EvaluationDefaults.Tokenize(verifier, p)).ToList();
        WarmUp(drafter, drafterId, verifier, verifierId, decoding, prompts[0]);
        var key = shard is null
            ? EvaluationDefaults.TaskContentKey(drafterId, verifierId, verifier, input.Settings, input.Gamma, input.Prompts)
            : input.TaskContentKey ?? throw new InvalidOperationException($"shard {shard.Index} of task '{input.TaskId}' has no task content key");
        var statistics = new TaskStatisticsBuilder(decoding.Gamma);
        if (shard is null)
        {
            observer.TaskStarted(input.RunId, input.TaskId, prompts.Count);
        }
        else
        {
            logger.ShardStarted(input.RunId, input.TaskId, shard.Index, shard.Count, shard.Prompts, shard.FirstPrompt);
            observer.ShardStarted(input.RunId, input.TaskId, shard);
        }

        var progress = new Progress(observer, input.RunId, input.TaskId, prompts.Count, shard);
        var stopwatch = Stopwatch.StartNew();
        var runner = new TaskRunner(drafter, verifier, decoding)
        {
            Repeats = input.Settings.Repeats,
            PlainDecoding = gamma == 0,
            CostProfileGamma = input.Settings.Gamma,
            FirstPromptIndex = shard?.FirstPrompt ?? 0,
        };

        TaskRunOutcome outcome;
        using (var watch = store.Watch(input.RunId, TimeSpan.FromSeconds(Math.Max(0.05, options.Value.CancellationPollSeconds))))
        {
            try
            {
                // The watch token stops the generation only; the store calls around it (open, commit) always finish, so a
                // trace is committed whole or not at all.
                outcome = shard is null
                    ? await store.RunTaskAsync(input.RunId, input.TaskId, key, prompts.Count, (sink, _) =>
                        runner.Run(prompts, new TeeSink(sink, statistics), progress, watch.Token),
                        reuseAcrossRuns: input.ReuseAcrossRuns).ConfigureAwait(false)
                    : await RunShardAsync(input, shard, key, sink => runner.Run(prompts, new TeeSink(sink, statistics), progress, watch.Token)).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (watch.Token.IsCancellationRequested)
            {
                return await CancelledAsync(input, statistics.Build().Count).ConfigureAwait(false);
            }
        }

        stopwatch.Stop();
        var perPrompt = statistics.Build();
        var fresh = !outcome.Reused;
        var summary = new TaskSummary
        {
            TaskId = input.TaskId,
            Shard = shard?.Index,
            Shards = shard?.Count,
            Status = outcome.Reused ? TaskOutcome.Reused : TaskOutcome.Committed,
            Prompts = prompts.Count,
            Steps = perPrompt.Sum(p => p.Steps),
            GeneratedTokens = perPrompt.Sum(p => p.GeneratedTokens),
            Alpha = fresh ? Ratio(perPrompt.Sum(p => p.AlphaSum), perPrompt.Sum(p => p.Positions)) : null,
            AcceptanceRate = fresh ? Ratio(perPrompt.Sum(p => p.Accepted), perPrompt.Sum(p => p.Drafted)) : null,
            CrossEntropy = fresh ? Ratio(perPrompt.Sum(p => p.CrossEntropySum), perPrompt.Sum(p => p.Positions)) : null,
            TokensPerSecond = fresh ? Ratio(perPrompt.Sum(p => p.GeneratedTokens), perPrompt.Sum(p => p.SpeculativeMs) / 1000) : null,
            Positions = fresh ? perPrompt.Sum(p => (long)p.Positions) : null,
            Drafted = fresh ? perPrompt.Sum(p => (long)p.Drafted) : null,
            StartedAt = started,
            CompletedAt = DateTimeOffset.UtcNow,
            ExecutionProvider = verifier.ExecutionProvider,
        };
        EvaluationTelemetry.Record(summary);
        if (shard is null)
        {
            logger.TaskEvaluated(input.RunId, input.TaskId, WireNames.Of(summary.Status), summary.Alpha ?? double.NaN, stopwatch.Elapsed.TotalSeconds);
        }
        else
        {
            logger.ShardEvaluated(input.RunId, input.TaskId, shard.Index, shard.Count, WireNames.Of(summary.Status), summary.Alpha ?? double.NaN, stopwatch.Elapsed.TotalSeconds);
        }
        observer.TaskCompleted(input.RunId, summary);
        return summary;
    }

    /// <summary>
    /// A shard with nothing left to do: its task is already committed (all shards, or reused whole), or this shard's part
    /// is. Returns the stored result (status and size; the statistics are in the trace); null when the shard must run.
    /// </summary>
    private async Task<TaskSummary?> StoredShardAsync(EvaluateTaskInput input, ShardRange shard)
    {
        var manifest = await store.GetManifestAsync(input.RunId).ConfigureAwait(false);
        if (manifest?.Tasks.GetValueOrDefault(input.TaskId) is not { } entry || entry.ContentKey != input.TaskContentKey)
        {
            return null;
        }

        var part = entry.Shards?.FirstOrDefault(s => s.Index == shard.Index);
        if (part is null && !entry.HasCommittedTrace)
        {
            return null;
        }

        logger.ShardSkipped(input.RunId, input.TaskId, shard.Index, shard.Count);
        var summary = input.Unevaluated(entry.Status == TaskState.Reused ? TaskOutcome.Reused : TaskOutcome.Committed) with
        {
            Steps = (int)(part?.Steps ?? 0),
        };
        observer.TaskCompleted(input.RunId, summary);
        return summary;
    }

    /// <summary>
    /// Runs one shard: when its task's content key has a committed trace elsewhere (and reuse is on) the task reuses it
    /// whole; otherwise the shard's records go to a part of their own, committed once (a duplicate attempt's part is
    /// discarded and the first one's kept).
    /// </summary>
    private async Task<TaskRunOutcome> RunShardAsync(EvaluateTaskInput input, ShardRange shard, string key, Action<ITraceSink> produce)
    {
        if (input.ReuseAcrossRuns && await store.TryGetCommittedTraceAsync(null, key).ConfigureAwait(false) is { } existing
            && existing.Trace.RunId != input.RunId)
        {
            return new TaskRunOutcome(await store.ReuseTraceAsync(input.RunId, input.TaskId, existing).ConfigureAwait(false), Reused: true);
        }

        var writer = await store.OpenShardWriterAsync(input.RunId, input.TaskId, key, shard).ConfigureAwait(false);
        await using (writer.ConfigureAwait(false))
        {
            produce(writer);
            var entry = await writer.CommitAsync().ConfigureAwait(false);
            return new TaskRunOutcome(entry, Reused: false);
        }
    }

    private static double? Ratio(double numerator, double denominator) => denominator > 0 ? numerator / denominator : null;

    private async Task<TaskSummary> CancelledAsync(EvaluateTaskInput input, int promptsDone)
    {
        try
        {
            await store.MarkTaskCancelledAsync(input.RunId, input.TaskId).ConfigureAwait(false);
        }
        catch (RunNotFoundException)
        {
            // Cancelled before PrepareRun wrote the manifest: there is no task entry to mark.
        }

        if (input.Shard is { } shard)
        {
            logger.ShardCancelled(input.RunId, input.TaskId, shard.Index, shard.Count, promptsDone);
        }
        else
        {
            logger.TaskCancelled(input.RunId, input.TaskId, promptsDone);
        }

        var summary = input.Unevaluated(TaskOutcome.Cancelled);
        observer.TaskCompleted(input.RunId, summary);
        return summary;
    }

    /// <summary>One short untimed generation per model pair and process: loads kernels and JIT-compiles the decode loop.</summary>
    private void WarmUp(OnnxLanguageModel drafter, ModelIdentity drafterId, OnnxLanguageModel verifier, ModelIdentity verifierId, DecodingOptions decoding, int[] prompt)
    {
        var tokens = options.Value.WarmUpTokens;
        if (tokens <= 0)
        {
            return;
        }

        models.EnsureWarm(drafterId, verifierId, () =>
        {
            var clock = Stopwatch.StartNew();
            new TaskRunner(drafter, verifier, decoding with { MaxNewTokens = tokens, StopTokens = [] }).Run([prompt], NullSink.Instance);
            logger.ModelsWarmedUp(drafterId.Name, verifierId.Name, clock.Elapsed.TotalSeconds);
        });
    }

    private sealed class NullSink : ITraceSink
    {
        public static NullSink Instance { get; } = new();

        public void Write(TraceRecord record)
        {
        }
    }

    private sealed class TeeSink(ITraceSink first, ITraceSink second) : ITraceSink
    {
        public void Write(TraceRecord record)
        {
            first.Write(record);
            second.Write(record);
        }
    }

    private sealed class Progress(IEvaluationObserver observer, string runId, string taskId, int total, ShardRange? shard) : IProgress<int>
    {
        public void Report(int value)
        {
            if (shard is null)
            {
                observer.PromptCompleted(runId, taskId, value, total);
            }
            else
            {
                observer.ShardPromptCompleted(runId, taskId, shard, value);
            }
        }
    }
}
