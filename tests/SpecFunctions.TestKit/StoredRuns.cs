using System.Text.Json.Nodes;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.TestKit;

/// <summary>
/// Runs as the listing, dashboard and trend tests store them: a manifest of <c>tiny-drafter → tiny-verifier</c> (γ 4,
/// 8 new tokens) whose submission names its suite, and for a finished run a report of one task. Only what those tests
/// read is set; the figures are the caller's.
/// </summary>
public static class StoredRuns
{
    /// <summary>The manifest of run <paramref name="runId"/> of suite <paramref name="suite"/> with <paramref name="tasks"/> in their states.</summary>
    public static RunManifest Manifest(string runId, string suite, DateTimeOffset createdAt, params (string TaskId, TaskState Status)[] tasks) => new()
    {
        RunId = runId,
        CreatedAt = createdAt,
        Submission = new JsonObject { ["suite"] = new JsonObject { ["name"] = suite } },
        Drafter = new ModelIdentity { Name = "tiny-drafter", Sha256 = ContentKey.Sha256Hex("d") },
        Verifier = new ModelIdentity { Name = "tiny-verifier", Sha256 = ContentKey.Sha256Hex("v") },
        Settings = new RunSettings { Gamma = 4, MaxNewTokens = 8 },
        Tasks = new SortedDictionary<string, TaskEntry>(
            tasks.ToDictionary(t => t.TaskId, t => new TaskEntry { TaskId = t.TaskId, Status = t.Status }, StringComparer.Ordinal), StringComparer.Ordinal),
    };

    /// <summary>
    /// The report of a run of one committed task <paramref name="taskId"/> (γ 4, c 0.1): U <paramref name="unfairness"/>,
    /// measured speed-up <paramref name="measuredSpeedup"/> (also the suite's mean) with its interval when given; the other
    /// figures fixed (α 0.5, analytical 1.2, bound 1.5).
    /// </summary>
    public static EvaluationReport Report(
        string runId, DateTimeOffset generatedAt, string taskId, double unfairness, double measuredSpeedup, IntervalReport? measuredSpeedupCi = null) => new()
    {
        RunId = runId,
        GeneratedAt = generatedAt,
        Suite = new SuiteReport
        {
            Gamma = 4,
            CostRatio = 0.1,
            VerificationCostRatio = 1,
            Fairness = new FairnessReport
            {
                Unfairness = unfairness, MeanCrossEntropy = 1, SpeedupVariance = 0, SpeedupRange = 0, MinMaxSpeedupRatio = 1, MeanSpeedup = measuredSpeedup, WorstTask = taskId,
            },
        },
        Tasks =
        [
            new TaskReport
            {
                TaskId = taskId, Status = TaskState.Committed, Prompts = 1, Steps = 1, DraftedTokens = 4, AcceptedTokens = 2, GeneratedTokens = 3,
                AcceptanceRate = 0.5, Alpha = 0.5, CrossEntropy = 1, Kl = 0.3, MeanAcceptedLength = 2, AnalyticalSpeedup = 1.2,
                ExpectedSpeedupPerPrefix = 1.2, RefinedSpeedup = 1.2, MeasuredSpeedup = measuredSpeedup, MeasuredSpeedupCi = measuredSpeedupCi,
                SpeedupBound = 1.5, SpeedupBoundCrossEntropy = 1.4,
            },
        ],
    };

    /// <summary>Creates the run in <paramref name="store"/> and publishes its <paramref name="report"/> when given.</summary>
    public static async Task AddAsync(ITraceStore store, RunManifest manifest, EvaluationReport? report = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        await store.CreateRunAsync(manifest, cancellationToken).ConfigureAwait(false);
        if (report is not null)
        {
            await ReportPublisher.PublishAsync(store, report, cancellationToken).ConfigureAwait(false);
        }
    }
}
