using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;
using SpecFunctions.Onnx;

namespace SpecFunctions.Orchestration;

/// <summary>Resolves the models, records their SHA-256 identities and writes the run manifest (idempotent).</summary>
public sealed class PrepareRunActivity(ITraceStore store, ModelCache models, IOptions<EvaluationOptions> options) : TaskActivity<EvaluationRequest, PreparedRun>
{
    public override async Task<PreparedRun> RunAsync(TaskActivityContext context, EvaluationRequest request)
    {
        var (drafter, drafterId, verifier, verifierId) = models.GetPair(request.Drafter, request.Verifier);
        _ = drafter;
        var decoding = EvaluationDefaults.ToDecodingOptions(request.Settings, verifier);
        var manifest = new RunManifest
        {
            RunId = request.RunId,
            CreatedAt = DateTimeOffset.UtcNow,
            Submission = JsonSerializer.SerializeToNode(request, EvaluationDefaults.Json) as JsonObject,
            Drafter = drafterId,
            Verifier = verifierId,
            Settings = RunSettings.From(decoding, baseline: true, request.Settings.Repeats),
        };
        foreach (var task in request.Suite.Tasks)
        {
            manifest = manifest.WithTask(new TaskEntry { TaskId = task.Id, Status = TaskState.Pending, Prompts = task.Prompts.Count, Gamma = task.Gamma });
        }

        await store.CreateRunAsync(manifest).ConfigureAwait(false);
        return new PreparedRun { RunId = request.RunId, Drafter = drafterId, Verifier = verifierId, Dispatch = QueueDispatch.From(options.Value) };
    }
}

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
            Status = outcome.Reused ? TaskOutcomes.Reused : TaskOutcomes.Committed,
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
        logger.TaskEvaluated(input.RunId, input.TaskId, summary.Status, summary.Alpha ?? double.NaN, stopwatch.Elapsed.TotalSeconds);
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
        var summary = new TaskSummary { TaskId = input.TaskId, Status = TaskOutcomes.Cancelled, Prompts = input.Prompts.Count };
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

/// <summary>
/// Marks failed tasks, builds the report from the committed traces, decides on mitigation and publishes
/// report.json, report.html and tasks.csv. Runs even when some tasks failed. A task whose committed trace has vanished
/// is marked failed and returned in <see cref="FairnessOutcome.LostTasks"/>.
/// </summary>
public sealed class ComputeFairnessActivity(ITraceStore store, IOptions<EvaluationOptions> options, ILogger<ComputeFairnessActivity> logger)
    : TaskActivity<FairnessInput, FairnessOutcome>
{
    public override async Task<FairnessOutcome> RunAsync(TaskActivityContext context, FairnessInput input)
    {
        using var span = EvaluationTelemetry.Source.StartActivity("ComputeFairness");
        span?.SetTag("specfn.run_id", input.RunId);
        span?.SetTag("specfn.tasks", input.Tasks.Count);
        foreach (var failed in input.Tasks.Where(t => t.Status == TaskOutcomes.Failed))
        {
            await store.MarkTaskFailedAsync(input.RunId, failed.TaskId, failed.Error ?? "failed").ConfigureAwait(false);
        }

        EvaluationReport report;
        try
        {
            report = await ReportBuilder.BuildAsync(store, input.RunId, new SuiteAnalysisOptions { BootstrapResamples = options.Value.BootstrapResamples }).ConfigureAwait(false);
        }
        catch (TraceStoreException ex)
        {
            logger.ReportNotBuilt(input.RunId, ex.Message);
            Core.Telemetry.SpecFunctionsTelemetry.EvaluationsFailed.Add(1);
            return new FairnessOutcome { Decision = "not-evaluated", Reason = ex.Message, Error = ex.Message };
        }

        // A trace committed and then lost is a failed task: recorded in the manifest, so that a re-run evaluates it again.
        var evaluated = input.Tasks.Where(t => t.Status is TaskOutcomes.Committed or TaskOutcomes.Reused).Select(t => t.TaskId).ToHashSet(StringComparer.Ordinal);
        var lost = report.IncompleteTasks
            .Where(t => t.Status == TaskState.Failed && evaluated.Contains(t.TaskId))
            .ToDictionary(t => t.TaskId, t => t.Error ?? "committed trace missing", StringComparer.Ordinal);
        foreach (var (taskId, error) in lost)
        {
            logger.TraceLost(input.RunId, taskId, error);
            await store.MarkTaskFailedAsync(input.RunId, taskId, error).ConfigureAwait(false);
        }

        var decision = MitigationDecision.Decide(report, input.Policy);
        report = report with { Decision = decision, Warnings = input.DeviceWarning is { } device ? [.. report.Warnings, device] : report.Warnings };
        await ReportPublisher.PublishAsync(store, report).ConfigureAwait(false);
        var fairness = report.Suite.Fairness;
        logger.FairnessComputed(input.RunId, fairness.Unfairness, fairness.WorstTask, decision.Action);
        Core.Telemetry.SpecFunctionsTelemetry.EvaluationsCompleted.Add(1);
        return new FairnessOutcome
        {
            Unfairness = fairness.Unfairness,
            MeanSpeedup = fairness.MeanSpeedup,
            MinMaxSpeedupRatio = fairness.MinMaxSpeedupRatio,
            WorstTask = fairness.WorstTask,
            Decision = decision.Action,
            Reason = decision.Reason,
            ReportWritten = true,
            LostTasks = lost,
        };
    }
}

/// <summary>Limits how many task evaluations run at once in this process (a GPU replica evaluates one at a time).</summary>
public sealed class EvaluationGate(IOptions<EvaluationOptions> options) : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(Math.Max(1, options.Value.MaxConcurrentEvaluations));

    public async Task<IDisposable> WaitAsync(CancellationToken cancellationToken = default)
    {
        await _semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser(_semaphore);
    }

    public void Dispose() => _semaphore.Dispose();

    private sealed class Releaser(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                semaphore.Release();
            }
        }
    }
}

/// <summary>Mapping from submission settings to the engine, shared by every activity.</summary>
public static class EvaluationDefaults
{
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>Decoding options for a submission: the verifier's EOS ids stop a generation unless the settings ignore them.</summary>
    public static DecodingOptions ToDecodingOptions(EvaluationSettings settings, OnnxLanguageModel verifier) => new()
    {
        Gamma = settings.Gamma,
        MaxNewTokens = settings.MaxNewTokens,
        Seed = settings.Seed,
        StopTokens = settings.IgnoreEos ? [] : verifier.Manifest.EosTokenIds,
        Sampling = new SamplingOptions { Temperature = settings.Temperature, TopK = settings.TopK, TopP = settings.TopP },
    };

    /// <summary>Encodes a prompt with the verifier's tokenizer (BOS first when the model has one), cut to fit the context.</summary>
    public static int[] Tokenize(OnnxLanguageModel verifier, string prompt)
    {
        var ids = verifier.Tokenizer.Encode(prompt);
        if (verifier.Manifest.BosTokenId is { } bos)
        {
            ids = [bos, .. ids];
        }

        if (ids.Length == 0)
        {
            throw new ArgumentException("prompt encodes to no tokens", nameof(prompt));
        }

        // Keep the most recent context; the generation needs room after the prompt.
        var limit = Math.Max(1, verifier.ContextLength / 2);
        return ids.Length > limit ? ids[^limit..] : ids;
    }
}

/// <summary>The mitigation decision of method.md §6: act when U or the speed-up gap passes its threshold.</summary>
public static class MitigationDecision
{
    public const string Mitigate = "mitigate";
    public const string None = "none";

    public static DecisionReport Decide(EvaluationReport report, MitigationPolicy policy)
    {
        var fairness = report.Suite.Fairness;
        var gap = double.IsFinite(fairness.MinMaxSpeedupRatio) ? 1 - fairness.MinMaxSpeedupRatio : 0;
        var reasons = new List<string>();
        if (fairness.Unfairness > policy.UnfairnessThreshold)
        {
            reasons.Add($"U = {fairness.Unfairness:G4} > {policy.UnfairnessThreshold:G4}");
        }

        if (gap > policy.SpeedupGapThreshold)
        {
            reasons.Add($"speed-up gap 1 − min/max = {gap:G4} > {policy.SpeedupGapThreshold:G4} (worst task {fairness.WorstTask})");
        }

        var mitigate = reasons.Count > 0;
        return new DecisionReport
        {
            Action = mitigate ? Mitigate : None,
            Reason = mitigate
                ? string.Join("; ", reasons) + (policy.AutoMitigate ? "" : " — recorded only (autoMitigate is off)")
                : $"U = {fairness.Unfairness:G4} ≤ {policy.UnfairnessThreshold:G4} and speed-up gap {gap:G4} ≤ {policy.SpeedupGapThreshold:G4}",
            Inputs = new Dictionary<string, double>
            {
                ["unfairness"] = fairness.Unfairness,
                ["unfairnessThreshold"] = policy.UnfairnessThreshold,
                ["speedupGap"] = gap,
                ["speedupGapThreshold"] = policy.SpeedupGapThreshold,
            },
            DecidedAt = report.GeneratedAt,
        };
    }
}
