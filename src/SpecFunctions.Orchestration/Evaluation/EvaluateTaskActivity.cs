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
/// this one when <see cref="EvaluateTaskInput.ReuseAcrossRuns"/> is off). A task of a cancelled run
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
        var (drafter, drafterId, verifier, verifierId) = models.GetPair(input.Drafter, input.Verifier);
        // γ = 0 is plain decoding: timed without the drafter, with an untimed γ = 1 pass for the task's statistics.
        var gamma = input.Gamma ?? input.Settings.Gamma;
        var decoding = EvaluationDefaults.ToDecodingOptions(input.Settings with { Gamma = Math.Max(1, gamma) }, verifier);
        var prompts = input.Prompts.Select(p => EvaluationDefaults.Tokenize(verifier, p)).ToList();
        WarmUp(drafter, drafterId, verifier, verifierId, decoding, prompts[0]);
        var key = ContentKey.Compute(
            drafterId.Sha256, verifierId.Sha256, RunSettings.From(decoding, baseline: true, input.Settings.Repeats) with { Gamma = gamma }, input.Prompts);
        var statistics = new TaskStatisticsBuilder(decoding.Gamma);
        observer.TaskStarted(input.RunId, input.TaskId, prompts.Count);
        var progress = new Progress(observer, input.RunId, input.TaskId, prompts.Count);
        var stopwatch = Stopwatch.StartNew();

        TaskRunOutcome outcome;
        using (var watch = store.Watch(input.RunId, TimeSpan.FromSeconds(Math.Max(0.05, options.Value.CancellationPollSeconds))))
        {
            try
            {
                // The watch token stops the generation only; the store calls around it (open, commit) always finish, so a
                // trace is committed whole or not at all.
                outcome = await store.RunTaskAsync(input.RunId, input.TaskId, key, prompts.Count, (sink, _) =>
                    new TaskRunner(drafter, verifier, decoding) { Repeats = input.Settings.Repeats, PlainDecoding = gamma == 0, CostProfileGamma = input.Settings.Gamma }.Run(prompts, new TeeSink(sink, statistics), progress, watch.Token),
                    reuseAcrossRuns: input.ReuseAcrossRuns).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (watch.Token.IsCancellationRequested)
            {
                return await CancelledAsync(input, statistics.Build().Count).ConfigureAwait(false);
            }
        }

        stopwatch.Stop();
        var perPrompt = statistics.Build();
        var summary = new TaskSummary
        {
            TaskId = input.TaskId,
            Status = outcome.Reused ? TaskOutcome.Reused : TaskOutcome.Committed,
            Prompts = prompts.Count,
            Steps = perPrompt.Sum(p => p.Steps),
            GeneratedTokens = perPrompt.Sum(p => p.GeneratedTokens),
            Alpha = outcome.Reused ? null : Ratio(perPrompt.Sum(p => p.AlphaSum), perPrompt.Sum(p => p.Positions)),
            AcceptanceRate = outcome.Reused ? null : Ratio(perPrompt.Sum(p => p.Accepted), perPrompt.Sum(p => p.Drafted)),
            CrossEntropy = outcome.Reused ? null : Ratio(perPrompt.Sum(p => p.CrossEntropySum), perPrompt.Sum(p => p.Positions)),
            TokensPerSecond = outcome.Reused ? null : Ratio(perPrompt.Sum(p => p.GeneratedTokens), perPrompt.Sum(p => p.SpeculativeMs) / 1000),
            StartedAt = started,
            CompletedAt = DateTimeOffset.UtcNow,
            ExecutionProvider = verifier.ExecutionProvider,
        };
        EvaluationTelemetry.Record(summary);
        logger.TaskEvaluated(input.RunId, input.TaskId, WireNames.Of(summary.Status), summary.Alpha ?? double.NaN, stopwatch.Elapsed.TotalSeconds);
        observer.TaskCompleted(input.RunId, summary);
        return summary;
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

        logger.TaskCancelled(input.RunId, input.TaskId, promptsDone);
        var summary = new TaskSummary { TaskId = input.TaskId, Status = TaskOutcome.Cancelled, Prompts = input.Prompts.Count };
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

    private sealed class Progress(IEvaluationObserver observer, string runId, string taskId, int total) : IProgress<int>
    {
        public void Report(int value) => observer.PromptCompleted(runId, taskId, value, total);
    }
}
