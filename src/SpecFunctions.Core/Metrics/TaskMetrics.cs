namespace SpecFunctions.Core.Metrics;

/// <summary>Task-level quantities of method.md §4. Cross-entropies and KL in nats; times in milliseconds.</summary>
public sealed record TaskMetrics
{
    public required string TaskId { get; init; }
    public required int Prompts { get; init; }
    public required int Steps { get; init; }
    public required int DraftedTokens { get; init; }
    public required int AcceptedTokens { get; init; }
    public required int GeneratedTokens { get; init; }

    /// <summary>The draft length this task was decoded at (the suite's, or its own; 0 = plain decoding).</summary>
    public int Gamma { get; init; }

    /// <summary>Accepted drafts / proposed drafts (the noisy realisation of α).</summary>
    public required double AcceptanceRate { get; init; }
    public ConfidenceInterval? AcceptanceRateCi { get; init; }

    /// <summary>α_T, the mean exact acceptance probability α(s) over drafted prefixes.</summary>
    public required double Alpha { get; init; }
    public required ConfidenceInterval AlphaCi { get; init; }

    /// <summary>D_T, the mean per-prefix cross-entropy −Σ p log q.</summary>
    public required double CrossEntropy { get; init; }
    public required ConfidenceInterval CrossEntropyCi { get; init; }

    /// <summary>KL_T, the mean per-prefix KL(p‖q).</summary>
    public required double Kl { get; init; }
    public ConfidenceInterval? KlCi { get; init; }

    /// <summary>Mean tokens emitted per speculative step, <b>bonus/correction token included</b> (plain decoding = 1.0).</summary>
    public required double MeanAcceptedLength { get; init; }
    public ConfidenceInterval? MeanAcceptedLengthCi { get; init; }

    /// <summary>This task's own measured c (drafter call / verifier single-position call); the suite's pooled c drives the speed-ups.</summary>
    public required double? CostRatio { get; init; }

    /// <summary>This task's own measured v_γ (verifier γ+1-position call / single-position call).</summary>
    public required double? VerificationCostRatio { get; init; }

    /// <summary>S_T = f_γ(α_T)/(1+γc), the paper's form. Its interval is α_T's mapped through the same (increasing) function, c fixed.</summary>
    public required double AnalyticalSpeedup { get; init; }
    public ConfidenceInterval? AnalyticalSpeedupCi { get; init; }

    /// <summary>E_s[f_γ(α(s))]/(1+γc), the per-prefix mean (≥ S_T by Jensen).</summary>
    public required double ExpectedSpeedupPerPrefix { get; init; }
    public ConfidenceInterval? ExpectedSpeedupPerPrefixCi { get; init; }

    /// <summary>f_γ(α_T)/(γc + v_γ), the prediction the measured speed-up should match (interval: α_T's, c and v_γ fixed).</summary>
    public required double RefinedSpeedup { get; init; }
    public ConfidenceInterval? RefinedSpeedupCi { get; init; }

    /// <summary>Baseline time per token / speculative time per token, each pooled over the task's prompts; null without a baseline.</summary>
    public required double? MeasuredSpeedup { get; init; }
    public required ConfidenceInterval? MeasuredSpeedupCi { get; init; }

    /// <summary>The measured speed-up's relative interval half-width, (upper − lower) / 2 / value; null without a baseline.</summary>
    public double? MeasuredSpeedupHalfWidth { get; init; }

    /// <summary>
    /// The measured speed-up cannot be read: no baseline, or its interval is wider than
    /// <see cref="SuiteAnalysisOptions.ReadableHalfWidth"/> (too few prompts or repeats for this machine's noise).
    /// </summary>
    public bool MeasuredSpeedupTooWide { get; init; }

    /// <summary>Theorem-1 bound f_γ(1−√(KL_T/2))/(1+γc).</summary>
    public required double SpeedupBound { get; init; }

    /// <summary>The looser bound f_γ(1−√(D_T/2))/(1+γc).</summary>
    public required double SpeedupBoundCrossEntropy { get; init; }

    /// <summary>
    /// Per draft position i (0-based): accepted at i / verified at i, where a draft is verified only when every earlier
    /// draft of its step was accepted. The conditional acceptance rate; about α(s) at that depth.
    /// </summary>
    public required double[] AcceptanceRateByPosition { get; init; }

    /// <summary>Per draft position i (0-based): P(accepted length > i), the fraction of steps whose first i + 1 drafts were all accepted.</summary>
    public required double[] AcceptedPastPosition { get; init; }

    /// <summary>
    /// Predicted speed-up f_γ(α_T)/(γc + v_γ) at every draft length γ = 0 … G (element γ; 1 at γ = 0, plain decoding),
    /// v_γ from the verifier cost profile; null without a profile.
    /// </summary>
    public double[]? PredictedSpeedupByGamma { get; init; }

    /// <summary>γ* = argmax over γ = 0 … G of <see cref="PredictedSpeedupByGamma"/>; 0 = do not speculate on this task.</summary>
    public int? OptimalGamma { get; init; }

    /// <summary>The predicted speed-up at <see cref="OptimalGamma"/>.</summary>
    public double? OptimalGammaSpeedup { get; init; }
}
