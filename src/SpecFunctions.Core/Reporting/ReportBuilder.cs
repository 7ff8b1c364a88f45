using System.Text.Json;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Reporting;

/// <summary>Computes an <see cref="EvaluationReport"/> from a run's committed traces (streamed, one task at a time).</summary>
public static class ReportBuilder
{
    /// <summary>
    /// Reads every committed (or reused) trace of <paramref name="runId"/> through <see cref="TaskStatisticsBuilder"/>
    /// and analyses the suite with <see cref="SuiteAnalyzer"/>. Tasks without a committed trace are listed as incomplete,
    /// and so is a task whose committed trace has gone missing from the store (status failed, the error names the trace).
    /// </summary>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    /// <exception cref="TraceStoreException">No task has a committed trace, or the cost ratio is unknown.</exception>
    public static async Task<EvaluationReport> BuildAsync(
        ITraceStore store, string runId, SuiteAnalysisOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var manifest = await store.GetManifestAsync(runId, cancellationToken).ConfigureAwait(false)
            ?? throw new RunNotFoundException(runId, store.Location);

        var gamma = manifest.Settings.Gamma;
        var complete = manifest.Tasks.Values.Where(t => t.HasCommittedTrace).OrderBy(t => t.TaskId, StringComparer.Ordinal).ToList();
        if (complete.Count == 0)
        {
            throw new TraceStoreException($"run '{runId}' has no committed task trace yet ({manifest.Tasks.Count} tasks registered)");
        }

        var statistics = new List<(string TaskId, IReadOnlyList<PromptStatistics> Prompts)>(complete.Count);
        foreach (var entry in complete)
        {
            try
            {
                statistics.Add((entry.TaskId, await ReadTaskAsync(store, runId, entry, gamma, cancellationToken).ConfigureAwait(false)));
            }
            catch (TraceMissingException ex)
            {
                // Committed, then lost: the task is reported failed, never silently left out of U. The manifest in the
                // store is left as it is; ComputeFairness records the failure.
                manifest = manifest.WithTask(entry with { Status = TaskState.Failed, Trace = null, Error = ex.Message });
            }
        }

        if (statistics.Count == 0)
        {
            throw new TraceStoreException($"run '{runId}' has no readable committed task trace ({string.Join("; ", manifest.Tasks.Values.Select(t => t.Error).OfType<string>())})");
        }

        SuiteMetrics suite;
        try
        {
            var taskGammas = manifest.Tasks.Values.Where(t => t.Gamma is not null).ToDictionary(t => t.TaskId, t => t.Gamma!.Value, StringComparer.Ordinal);
            suite = SuiteAnalyzer.Analyze(statistics, gamma, (options ?? new SuiteAnalysisOptions()) with
            {
                Greedy = manifest.Settings.Sampling.IsGreedy,
                TaskGammas = taskGammas.Count > 0 ? taskGammas : null,
            });
        }
        catch (InvalidOperationException ex)
        {
            throw new TraceStoreException($"cannot report run '{runId}': {ex.Message}", ex);
        }

        return FromMetrics(runId, suite, manifest, options?.ConfidenceLevel ?? 0.95);
    }

    /// <summary>
    /// Each committed task's per-prompt statistics (what the report was computed from), for judgements that resample
    /// prompts across two runs (the promotion rule's paired bootstrap).
    /// </summary>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    /// <exception cref="TraceMissingException">A committed trace has gone missing from the store.</exception>
    public static async Task<IReadOnlyDictionary<string, IReadOnlyList<PromptStatistics>>> ReadPromptStatisticsAsync(
        ITraceStore store, string runId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var manifest = await store.GetManifestAsync(runId, cancellationToken).ConfigureAwait(false)
            ?? throw new RunNotFoundException(runId, store.Location);
        var statistics = new Dictionary<string, IReadOnlyList<PromptStatistics>>(StringComparer.Ordinal);
        foreach (var entry in manifest.Tasks.Values.Where(t => t.HasCommittedTrace))
        {
            statistics[entry.TaskId] = await ReadTaskAsync(store, runId, entry, manifest.Settings.Gamma, cancellationToken).ConfigureAwait(false);
        }

        return statistics;
    }

    private static async Task<IReadOnlyList<PromptStatistics>> ReadTaskAsync(
        ITraceStore store, string runId, TaskEntry entry, int gamma, CancellationToken cancellationToken)
    {
        // A task decoded at its own γ has step records of that γ (plain decoding: of its γ = 1 statistics pass).
        var builder = new TaskStatisticsBuilder(entry.Gamma is { } own ? Math.Max(1, own) : gamma);
        await foreach (var record in store.ReadTraceAsync(runId, entry.TaskId, cancellationToken).ConfigureAwait(false))
        {
            builder.Add(record);
        }

        return builder.Build();
    }

    /// <summary>Maps suite metrics (and, when given, the manifest's task states and models) to the report schema.</summary>
    public static EvaluationReport FromMetrics(string runId, SuiteMetrics suite, RunManifest? manifest = null, double confidenceLevel = 0.95)
    {
        ArgumentNullException.ThrowIfNull(suite);
        IntervalReport? Interval(ConfidenceInterval? ci) =>
            ci is null ? null : new IntervalReport { Lower = ci.Lower, Upper = ci.Upper, Level = confidenceLevel };

        var tasks = suite.Tasks.Select(t =>
        {
            TaskEntry? entry = null;
            manifest?.Tasks.TryGetValue(t.TaskId, out entry);
            var reused = entry is { Status: TaskState.Reused } ? entry.Trace : null;
            return new TaskReport
            {
                TaskId = t.TaskId,
                Status = entry?.Status ?? TaskState.Committed,
                ReusedFrom = reused,
                Prompts = t.Prompts,
                Steps = t.Steps,
                DraftedTokens = t.DraftedTokens,
                AcceptedTokens = t.AcceptedTokens,
                GeneratedTokens = t.GeneratedTokens,
                AcceptanceRate = t.AcceptanceRate,
                Alpha = t.Alpha,
                AlphaCi = Interval(t.AlphaCi),
                AcceptanceRateCi = Interval(t.AcceptanceRateCi),
                KlCi = Interval(t.KlCi),
                MeanAcceptedLengthCi = Interval(t.MeanAcceptedLengthCi),
                AnalyticalSpeedupCi = Interval(t.AnalyticalSpeedupCi),
                ExpectedSpeedupPerPrefixCi = Interval(t.ExpectedSpeedupPerPrefixCi),
                RefinedSpeedupCi = Interval(t.RefinedSpeedupCi),
                CrossEntropy = t.CrossEntropy,
                CrossEntropyCi = Interval(t.CrossEntropyCi),
                Kl = t.Kl,
                MeanAcceptedLength = t.MeanAcceptedLength,
                CostRatio = t.CostRatio,
                AnalyticalSpeedup = t.AnalyticalSpeedup,
                ExpectedSpeedupPerPrefix = t.ExpectedSpeedupPerPrefix,
                RefinedSpeedup = t.RefinedSpeedup,
                MeasuredSpeedup = t.MeasuredSpeedup,
                MeasuredSpeedupCi = Interval(t.MeasuredSpeedupCi),
                MeasuredSpeedupHalfWidth = t.MeasuredSpeedupHalfWidth,
                MeasuredSpeedupTooWide = t.MeasuredSpeedup is not null && t.MeasuredSpeedupTooWide,
                SpeedupBound = t.SpeedupBound,
                SpeedupBoundCrossEntropy = t.SpeedupBoundCrossEntropy,
                AcceptanceRateByPosition = t.AcceptanceRateByPosition,
                AcceptedPastPosition = t.AcceptedPastPosition,
                Gamma = t.Gamma == suite.Gamma ? null : t.Gamma,
                PredictedSpeedupByGamma = t.PredictedSpeedupByGamma,
                OptimalGamma = t.OptimalGamma,
                OptimalGammaSpeedup = t.OptimalGammaSpeedup,
            };
        }).ToList();

        var incomplete = manifest?.Tasks.Values
            .Where(t => !t.HasCommittedTrace)
            .OrderBy(t => t.TaskId, StringComparer.Ordinal)
            .Select(t => new IncompleteTask { TaskId = t.TaskId, Status = t.Status, Error = t.Error })
            .ToList() ?? [];

        var generatedAt = DateTimeOffset.UtcNow;
        return new EvaluationReport
        {
            RunId = runId,
            GeneratedAt = generatedAt,
            Prediction = PredictedAgainstActual(manifest, suite, tasks, generatedAt),
            Drafter = manifest?.Drafter,
            Verifier = manifest?.Verifier,
            Suite = new SuiteReport
            {
                Gamma = suite.Gamma,
                CostRatio = suite.CostRatio,
                VerificationCostRatio = suite.VerificationCostRatio,
                VerificationCostProfile = suite.VerificationCostProfile,
                StepCostProfile = suite.StepCostProfile,
                BaselineMsPerToken = suite.BaselineMsPerToken,
                Fairness = ToReport(suite.Fairness),
                MeasuredFairness = suite.MeasuredFairness is null ? null : ToReport(suite.MeasuredFairness),
            },
            Tasks = tasks,
            IncompleteTasks = incomplete,
        };
    }

    /// <summary>The run's prediction (kept in its submission) beside what it measured; null when none was made.</summary>
    private static PredictionReport? PredictedAgainstActual(RunManifest? manifest, SuiteMetrics suite, IReadOnlyList<TaskReport> tasks, DateTimeOffset generatedAt)
    {
        if (manifest?.Submission?["prediction"] is not { } node || tasks.Count == 0)
        {
            return null;
        }

        var prediction = node.Deserialize<Estimation.RunPrediction>(RunManifest.JsonOptions);
        if (prediction is null)
        {
            return null;
        }

        var b = suite.BaselineMsPerToken;
        return new PredictionReport
        {
            Replicas = prediction.Replicas,
            ProfileSource = prediction.Profile.Source,
            PredictedWallSeconds = prediction.WallSeconds,
            ActualWallSeconds = (generatedAt - manifest.CreatedAt).TotalSeconds,
            PredictedGpuSeconds = prediction.GpuSeconds,
            PredictedCost = prediction.Cost,
            PredictedVerifierMsPerToken = prediction.Profile.VerifierMsPerToken,
            ActualVerifierMsPerToken = b,
            PredictedDrafterMsPerToken = prediction.Profile.DrafterMsPerToken,
            ActualDrafterMsPerToken = b * suite.CostRatio,
            PredictedAlpha = prediction.Profile.Alpha,
            ActualAlpha = tasks.Average(t => t.Alpha),
        };
    }

    private static FairnessReport ToReport(FairnessMetrics f) => new()
    {
        Unfairness = f.Unfairness,
        MeanCrossEntropy = f.MeanCrossEntropy,
        KlUnfairness = double.IsFinite(f.KlUnfairness) ? f.KlUnfairness : null,
        SpeedupVariance = f.SpeedupVariance,
        SpeedupRange = f.SpeedupRange,
        MinMaxSpeedupRatio = f.MinMaxSpeedupRatio,
        MeanSpeedup = f.MeanSpeedup,
        WorstTask = f.WorstTask,
    };
}
