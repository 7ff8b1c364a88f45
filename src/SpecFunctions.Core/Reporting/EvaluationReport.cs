using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Reporting;

/// <summary>
/// The evaluation report (<c>runs/{runId}/report.json</c>): one schema for the CLI (<c>specfn report --json</c>) and the
/// HTTP API. Cross-entropies and KL in nats; speed-ups are ratios (1 = no gain). NaN is written as <c>"NaN"</c>.
/// </summary>
public sealed record EvaluationReport
{
    public const int CurrentSchemaVersion = 1;

    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    [JsonPropertyName("runId")]
    public required string RunId { get; init; }

    [JsonPropertyName("generatedAt")]
    public DateTimeOffset GeneratedAt { get; init; }

    [JsonPropertyName("drafter")]
    public ModelIdentity? Drafter { get; init; }

    [JsonPropertyName("verifier")]
    public ModelIdentity? Verifier { get; init; }

    [JsonPropertyName("suite")]
    public required SuiteReport Suite { get; init; }

    /// <summary>Tasks with a committed (or reused) trace, in task-id order.</summary>
    [JsonPropertyName("tasks")]
    public required IReadOnlyList<TaskReport> Tasks { get; init; }

    /// <summary>Tasks of the run without a committed trace (pending, running, failed); not part of the suite figures.</summary>
    [JsonPropertyName("incompleteTasks")]
    public IReadOnlyList<IncompleteTask> IncompleteTasks { get; init; } = [];

    /// <summary>Before/after result of a mitigation (s-CDF or a baseline); null when none ran.</summary>
    [JsonPropertyName("mitigation")]
    public MitigationReport? Mitigation { get; init; }

    /// <summary>The mitigation decision and its inputs; null when none was taken.</summary>
    [JsonPropertyName("decision")]
    public DecisionReport? Decision { get; init; }

    /// <summary>Comparison with the suite's previous audited run (nightly audit); null when not compared.</summary>
    [JsonPropertyName("regression")]
    public RegressionReport? Regression { get; init; }

    /// <summary>The estimate made before the run set against what the run measured; null when no prediction was made.</summary>
    [JsonPropertyName("prediction")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public PredictionReport? Prediction { get; init; }

    /// <summary>
    /// What a reader must know before trusting the figures, e.g. a GPU was requested and the CPU did the work (the
    /// speed-ups are then CPU speed-ups). Empty when there is nothing to say.
    /// </summary>
    [JsonPropertyName("warnings")]
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Serializer settings of the report: camelCase, NaN/Infinity as strings, enums as strings.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static EvaluationReport FromJson(string json) =>
        JsonSerializer.Deserialize<EvaluationReport>(json, JsonOptions) ?? throw new FormatException("report JSON is null");
}

/// <summary>Suite-level figures (method.md §4–5).</summary>
public sealed record SuiteReport
{
    /// <summary>Draft length γ.</summary>
    [JsonPropertyName("gamma")]
    public required int Gamma { get; init; }

    /// <summary>c = drafter forward time / verifier forward time (measured, pooled over tasks, or the override).</summary>
    [JsonPropertyName("costRatio")]
    public required double CostRatio { get; init; }

    /// <summary>v_γ = verifier time for γ+1 positions / for one (measured, or 1 when unknown).</summary>
    [JsonPropertyName("verificationCostRatio")]
    public required double VerificationCostRatio { get; init; }

    /// <summary>v_γ for γ = 1 … gamma (element γ − 1), from one verifier call per size and prompt (medians); null without a profile.</summary>
    [JsonPropertyName("verificationCostProfile")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? VerificationCostProfile { get; init; }

    /// <summary>
    /// s_γ for γ = 1 … G (element γ − 1): a speculative step's wall time at γ over a baseline token's, measured in the
    /// decode loop on the first prompts; the per-γ predictions and γ* come from it. Null without one (older runs).
    /// </summary>
    [JsonPropertyName("stepCostProfile")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? StepCostProfile { get; init; }

    /// <summary>
    /// b: the baseline arm's verifier time per generated token, ms, pooled over the prompts; what an estimate reuses as the
    /// pair's stored cost profile (docs/estimate.md). Null without a baseline (and in reports made before it was recorded).
    /// </summary>
    [JsonPropertyName("baselineMsPerToken")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? BaselineMsPerToken { get; init; }

    /// <summary>Fairness over analytical speed-ups S_T (the paper's form).</summary>
    [JsonPropertyName("fairness")]
    public required FairnessReport Fairness { get; init; }

    /// <summary>Fairness over measured speed-ups, when every task has a baseline.</summary>
    [JsonPropertyName("measuredFairness")]
    public FairnessReport? MeasuredFairness { get; init; }
}

/// <summary>Fairness of a suite (method.md §5). Tasks weighted uniformly, variances with 1/m.</summary>
public sealed record FairnessReport
{
    /// <summary>U = (1/m) Σ (D_T − D̄)², nats². Lower is fairer.</summary>
    [JsonPropertyName("unfairness")]
    public required double Unfairness { get; init; }

    /// <summary>D̄, nats.</summary>
    [JsonPropertyName("meanCrossEntropy")]
    public required double MeanCrossEntropy { get; init; }

    /// <summary>U_KL = (1/m) Σ (KL_T − KL̄)², nats² (method.md §6); absent in reports made before it existed.</summary>
    [JsonPropertyName("klUnfairness")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? KlUnfairness { get; init; }

    [JsonPropertyName("speedupVariance")]
    public required double SpeedupVariance { get; init; }

    /// <summary>max S_T − min S_T.</summary>
    [JsonPropertyName("speedupRange")]
    public required double SpeedupRange { get; init; }

    /// <summary>min S_T / max S_T (1 = equal).</summary>
    [JsonPropertyName("minMaxSpeedupRatio")]
    public required double MinMaxSpeedupRatio { get; init; }

    [JsonPropertyName("meanSpeedup")]
    public required double MeanSpeedup { get; init; }

    /// <summary>Task with the lowest speed-up.</summary>
    [JsonPropertyName("worstTask")]
    public required string WorstTask { get; init; }
}

/// <summary>A two-sided confidence interval (bootstrap over prompts).</summary>
public sealed record IntervalReport
{
    [JsonPropertyName("lower")]
    public required double Lower { get; init; }

    [JsonPropertyName("upper")]
    public required double Upper { get; init; }

    /// <summary>Confidence level, e.g. 0.95.</summary>
    [JsonPropertyName("level")]
    public double Level { get; init; } = 0.95;
}

/// <summary>One task's figures (method.md §4).</summary>
public sealed record TaskReport
{
    [JsonPropertyName("taskId")]
    public required string TaskId { get; init; }

    /// <summary><c>committed</c> or <c>reused</c> (trace taken from an identical earlier computation).</summary>
    [JsonPropertyName("status")]
    public required TaskState Status { get; init; }

    /// <summary>Where the trace came from when reused; null otherwise.</summary>
    [JsonPropertyName("reusedFrom")]
    public TraceLocation? ReusedFrom { get; init; }

    [JsonPropertyName("prompts")]
    public required int Prompts { get; init; }

    [JsonPropertyName("steps")]
    public required int Steps { get; init; }

    [JsonPropertyName("draftedTokens")]
    public required int DraftedTokens { get; init; }

    [JsonPropertyName("acceptedTokens")]
    public required int AcceptedTokens { get; init; }

    [JsonPropertyName("generatedTokens")]
    public required int GeneratedTokens { get; init; }

    /// <summary>Accepted / proposed drafts.</summary>
    [JsonPropertyName("acceptanceRate")]
    public required double AcceptanceRate { get; init; }

    [JsonPropertyName("acceptanceRateCi")]
    public IntervalReport? AcceptanceRateCi { get; init; }

    /// <summary>α_T, mean exact α(s) over drafted prefixes.</summary>
    [JsonPropertyName("alpha")]
    public required double Alpha { get; init; }

    [JsonPropertyName("alphaCi")]
    public IntervalReport? AlphaCi { get; init; }

    /// <summary>D_T, nats.</summary>
    [JsonPropertyName("crossEntropy")]
    public required double CrossEntropy { get; init; }

    [JsonPropertyName("crossEntropyCi")]
    public IntervalReport? CrossEntropyCi { get; init; }

    /// <summary>KL_T, nats.</summary>
    [JsonPropertyName("kl")]
    public required double Kl { get; init; }

    [JsonPropertyName("klCi")]
    public IntervalReport? KlCi { get; init; }

    /// <summary>Mean tokens emitted per step, bonus/correction token included (plain decoding = 1.0).</summary>
    [JsonPropertyName("meanAcceptedLength")]
    public required double MeanAcceptedLength { get; init; }

    [JsonPropertyName("meanAcceptedLengthCi")]
    public IntervalReport? MeanAcceptedLengthCi { get; init; }

    /// <summary>This task's own measured c; null without a baseline.</summary>
    [JsonPropertyName("costRatio")]
    public double? CostRatio { get; init; }

    /// <summary>S_T = f_γ(α_T)/(1+γc).</summary>
    [JsonPropertyName("analyticalSpeedup")]
    public required double AnalyticalSpeedup { get; init; }

    /// <summary>α_T's interval through f_γ(·)/(1+γc), c fixed.</summary>
    [JsonPropertyName("analyticalSpeedupCi")]
    public IntervalReport? AnalyticalSpeedupCi { get; init; }

    /// <summary>E_s[f_γ(α(s))]/(1+γc) (≥ S_T by Jensen).</summary>
    [JsonPropertyName("expectedSpeedupPerPrefix")]
    public required double ExpectedSpeedupPerPrefix { get; init; }

    [JsonPropertyName("expectedSpeedupPerPrefixCi")]
    public IntervalReport? ExpectedSpeedupPerPrefixCi { get; init; }

    /// <summary>f_γ(α_T)/(γc + v_γ).</summary>
    [JsonPropertyName("refinedSpeedup")]
    public required double RefinedSpeedup { get; init; }

    /// <summary>α_T's interval through f_γ(·)/(γc+v_γ), c and v_γ fixed.</summary>
    [JsonPropertyName("refinedSpeedupCi")]
    public IntervalReport? RefinedSpeedupCi { get; init; }

    /// <summary>Baseline time per token / speculative time per token; null without a baseline.</summary>
    [JsonPropertyName("measuredSpeedup")]
    public double? MeasuredSpeedup { get; init; }

    [JsonPropertyName("measuredSpeedupCi")]
    public IntervalReport? MeasuredSpeedupCi { get; init; }

    /// <summary>Relative half-width of <see cref="MeasuredSpeedupCi"/>: (upper − lower) / 2 / measured.</summary>
    [JsonPropertyName("measuredSpeedupHalfWidth")]
    public double? MeasuredSpeedupHalfWidth { get; init; }

    /// <summary>True when the measured interval is too wide to read (see the run's readable half-width); the value is then not a reading.</summary>
    [JsonPropertyName("measuredSpeedupTooWide")]
    public bool MeasuredSpeedupTooWide { get; init; }

    /// <summary>Theorem-1 bound f_γ(1−√(KL_T/2))/(1+γc).</summary>
    [JsonPropertyName("speedupBound")]
    public required double SpeedupBound { get; init; }

    /// <summary>Looser bound with D_T in place of KL_T.</summary>
    [JsonPropertyName("speedupBoundCrossEntropy")]
    public required double SpeedupBoundCrossEntropy { get; init; }

    /// <summary>Per draft position (index 0 = first draft): accepted at i / verified at i (every earlier draft accepted).</summary>
    [JsonPropertyName("acceptanceRateByPosition")]
    public double[] AcceptanceRateByPosition { get; init; } = [];

    /// <summary>Per draft position (index 0 = first draft): P(accepted length &gt; i), steps whose first i + 1 drafts were all accepted.</summary>
    [JsonPropertyName("acceptedPastPosition")]
    public double[] AcceptedPastPosition { get; init; } = [];

    /// <summary>This task's own draft length when it differs from the suite's (0 = plain decoding); null: the suite's γ.</summary>
    [JsonPropertyName("gamma")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Gamma { get; init; }

    /// <summary>Predicted speed-up f_γ(α_T)/(γc + v_γ) at γ = 0 … gamma (element γ; 1 at γ = 0, plain decoding); null without a cost profile.</summary>
    [JsonPropertyName("predictedSpeedupByGamma")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double[]? PredictedSpeedupByGamma { get; init; }

    /// <summary>γ*, the draft length that pays on this task (argmax of <see cref="PredictedSpeedupByGamma"/>); 0 = do not speculate.</summary>
    [JsonPropertyName("optimalGamma")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? OptimalGamma { get; init; }

    /// <summary>The predicted speed-up at γ*.</summary>
    [JsonPropertyName("optimalGammaSpeedup")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? OptimalGammaSpeedup { get; init; }
}

/// <summary>A task of the run that has no committed trace.</summary>
public sealed record IncompleteTask
{
    [JsonPropertyName("taskId")]
    public required string TaskId { get; init; }

    [JsonPropertyName("status")]
    public required TaskState Status { get; init; }

    [JsonPropertyName("error")]
    public string? Error { get; init; }
}

/// <summary>Before/after of a mitigation (filled by the mitigation issue).</summary>
public sealed record MitigationReport
{
    /// <summary>E.g. <c>s-cdf</c>, <c>data-balancing</c>, <c>temperature</c>.</summary>
    [JsonPropertyName("strategy")]
    public required string Strategy { get; init; }

    [JsonPropertyName("unfairnessBefore")]
    public required double UnfairnessBefore { get; init; }

    [JsonPropertyName("unfairnessAfter")]
    public required double UnfairnessAfter { get; init; }

    [JsonPropertyName("meanSpeedupBefore")]
    public required double MeanSpeedupBefore { get; init; }

    [JsonPropertyName("meanSpeedupAfter")]
    public required double MeanSpeedupAfter { get; init; }

    /// <summary>Whether the mitigated drafter was promoted to be the served one.</summary>
    [JsonPropertyName("promoted")]
    public required bool Promoted { get; init; }

    [JsonPropertyName("drafterBefore")]
    public ModelIdentity? DrafterBefore { get; init; }

    [JsonPropertyName("drafterAfter")]
    public ModelIdentity? DrafterAfter { get; init; }

    /// <summary>
    /// Which speed-up the before/after columns hold and the rule judged: <c>measured</c> (wall time, both runs timed a
    /// baseline), else <c>analytical</c> (S_T at the before run's c; the drafter changed) or <c>refined</c> (gating).
    /// </summary>
    [JsonPropertyName("speedupKind")]
    public string SpeedupKind { get; init; } = "analytical";

    /// <summary>Worst task's speed-up / best task's, before and after (same kind as the columns).</summary>
    [JsonPropertyName("minMaxSpeedupRatioBefore")]
    public double? MinMaxSpeedupRatioBefore { get; init; }

    [JsonPropertyName("minMaxSpeedupRatioAfter")]
    public double? MinMaxSpeedupRatioAfter { get; init; }

    [JsonPropertyName("tasks")]
    public IReadOnlyList<MitigationTaskReport> Tasks { get; init; } = [];

    /// <summary>How the promotion rule judged it (paired intervals, the deciding condition); null in older reports.</summary>
    [JsonPropertyName("rule")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public PromotionReport? Rule { get; init; }
}

/// <summary>One task before and after a mitigation: α_T, D_T (nats), S_T, and the data the mitigation used.</summary>
public sealed record MitigationTaskReport
{
    [JsonPropertyName("taskId")]
    public required string TaskId { get; init; }

    [JsonPropertyName("alphaBefore")]
    public required double AlphaBefore { get; init; }

    [JsonPropertyName("alphaAfter")]
    public required double AlphaAfter { get; init; }

    [JsonPropertyName("crossEntropyBefore")]
    public required double CrossEntropyBefore { get; init; }

    [JsonPropertyName("crossEntropyAfter")]
    public required double CrossEntropyAfter { get; init; }

    [JsonPropertyName("speedupBefore")]
    public required double SpeedupBefore { get; init; }

    [JsonPropertyName("speedupAfter")]
    public required double SpeedupAfter { get; init; }

    /// <summary>Speed-up after / before on the same prompts (the kind of the columns); null in older reports.</summary>
    [JsonPropertyName("speedupRatio")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? SpeedupRatio { get; init; }

    /// <summary>Paired bootstrap interval of <see cref="SpeedupRatio"/> over the evaluation prompts.</summary>
    [JsonPropertyName("speedupRatioCi")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IntervalReport? SpeedupRatioCi { get; init; }

    /// <summary>The interval's lower end is at or above 1 − margin: this task is shown not to be worse off.</summary>
    [JsonPropertyName("noWorseOff")]
    public bool NoWorseOff { get; init; }

    /// <summary>Prompts the corrective data came from.</summary>
    [JsonPropertyName("trainingPrompts")]
    public int TrainingPrompts { get; init; }

    /// <summary>Prompts before and after were both measured on (the evaluated run's).</summary>
    [JsonPropertyName("evaluationPrompts")]
    public int EvaluationPrompts { get; init; }

    /// <summary>Training prompts that are also evaluation prompts; a mitigation runs only when this is 0.</summary>
    [JsonPropertyName("promptOverlap")]
    public int PromptOverlap { get; init; }

    /// <summary>Training prompts held out as the dev split (D_T re-estimates, weights, τ); 0 in older reports.</summary>
    [JsonPropertyName("devPrompts")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int DevPrompts { get; init; }

    /// <summary>Draft length before and after (the gating strategy changes it per task; 0 = plain decoding); null otherwise.</summary>
    [JsonPropertyName("gammaBefore")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? GammaBefore { get; init; }

    [JsonPropertyName("gammaAfter")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? GammaAfter { get; init; }

    /// <summary>Gating: α on the reference prefixes of the task's dev prompts, which γ after was chosen from.</summary>
    [JsonPropertyName("devAlpha")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? DevAlpha { get; init; }
}

/// <summary>The mitigation decision and what it was based on (filled by the decision issue).</summary>
public sealed record DecisionReport
{
    /// <summary>E.g. <c>mitigate</c>, <c>promote</c>, <c>keep</c>, <c>none-needed</c>.</summary>
    [JsonPropertyName("action")]
    public required string Action { get; init; }

    /// <summary>One human-readable sentence.</summary>
    [JsonPropertyName("reason")]
    public required string Reason { get; init; }

    /// <summary>Named numeric inputs (thresholds, U, speed-ups) the decision used.</summary>
    [JsonPropertyName("inputs")]
    public IReadOnlyDictionary<string, double> Inputs { get; init; } = new Dictionary<string, double>();

    /// <summary>Anything else, verbatim.</summary>
    [JsonPropertyName("details")]
    public JsonObject? Details { get; init; }

    [JsonPropertyName("decidedAt")]
    public DateTimeOffset? DecidedAt { get; init; }
}

/// <summary>
/// Predicted against actual (docs/estimate.md): the prediction kept with the submission and what the run measured. Actual
/// wall time runs from the manifest's creation to the report; the per-token figures come from the timed arms.
/// </summary>
public sealed record PredictionReport
{
    /// <summary>Replicas the prediction was made for.</summary>
    [JsonPropertyName("replicas")]
    public required int Replicas { get; init; }

    /// <summary>Where the prediction's cost profile came from (calibration or a stored run).</summary>
    [JsonPropertyName("profileSource")]
    public required string ProfileSource { get; init; }

    [JsonPropertyName("predictedWallSeconds")]
    public required double PredictedWallSeconds { get; init; }

    [JsonPropertyName("actualWallSeconds")]
    public required double ActualWallSeconds { get; init; }

    [JsonPropertyName("predictedGpuSeconds")]
    public required double PredictedGpuSeconds { get; init; }

    [JsonPropertyName("predictedCost")]
    public required double PredictedCost { get; init; }

    [JsonPropertyName("predictedVerifierMsPerToken")]
    public required double PredictedVerifierMsPerToken { get; init; }

    /// <summary>The run's <see cref="SuiteReport.BaselineMsPerToken"/>; null without a baseline.</summary>
    [JsonPropertyName("actualVerifierMsPerToken")]
    public double? ActualVerifierMsPerToken { get; init; }

    [JsonPropertyName("predictedDrafterMsPerToken")]
    public required double PredictedDrafterMsPerToken { get; init; }

    /// <summary>c·b of the run; null without a baseline.</summary>
    [JsonPropertyName("actualDrafterMsPerToken")]
    public double? ActualDrafterMsPerToken { get; init; }

    [JsonPropertyName("predictedAlpha")]
    public required double PredictedAlpha { get; init; }

    /// <summary>The mean of the tasks' α_T.</summary>
    [JsonPropertyName("actualAlpha")]
    public required double ActualAlpha { get; init; }
}
