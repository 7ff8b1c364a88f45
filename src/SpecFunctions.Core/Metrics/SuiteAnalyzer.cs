namespace SpecFunctions.Core.Metrics;

/// <summary>Settings of <see cref="SuiteAnalyzer"/>.</summary>
public sealed record SuiteAnalysisOptions
{
    /// <summary>Use this c instead of the measured one (e.g. a simulation with a chosen cost ratio).</summary>
    public double? CostRatio { get; init; }

    /// <summary>Use this v_γ instead of the measured one. Without a measurement or override, 1 (Leviathan's assumption).</summary>
    public double? VerificationCostRatio { get; init; }

    /// <summary>Bootstrap resamples over prompts. Default 1000.</summary>
    public int BootstrapResamples { get; init; } = 1000;

    /// <summary>Confidence level of every interval. Default 0.95.</summary>
    public double ConfidenceLevel { get; init; } = 0.95;

    /// <summary>
    /// Largest relative half-width, (upper − lower) / 2 / value, of a measured speed-up's interval that the report
    /// prints as a reading; a wider one is flagged (<see cref="TaskMetrics.MeasuredSpeedupTooWide"/>). Default 0.10.
    /// </summary>
    public double ReadableHalfWidth { get; init; } = 0.10;

    /// <summary>
    /// Tasks decoded at their own draft length (the gating mitigation's per-task γ; 0 = plain decoding); the others use
    /// the suite's γ. Their refined prediction takes v_γ from the verifier cost profile.
    /// </summary>
    public IReadOnlyDictionary<string, int>? TaskGammas { get; init; }

    /// <summary>Bootstrap seed. Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>
    /// The run decoded greedily: α(s) is then the argmax-agreement indicator while KL and CE come from the temperature-1
    /// distributions, so Theorem 1 does not bound it and the bounds are reported as NaN. Default false.
    /// </summary>
    public bool Greedy { get; init; }
}

/// <summary>Everything a report says about a suite.</summary>
public sealed record SuiteMetrics
{
    public required int Gamma { get; init; }

    /// <summary>Pooled c over all tasks (or the override).</summary>
    public required double CostRatio { get; init; }

    /// <summary>Pooled v_γ over all tasks (or the override, or 1).</summary>
    public required double VerificationCostRatio { get; init; }

    public required IReadOnlyList<TaskMetrics> Tasks { get; init; }

    /// <summary>Fairness over analytical speed-ups S_T (the paper's form).</summary>
    public required FairnessMetrics Fairness { get; init; }

    /// <summary>Fairness over measured speed-ups, when every task has a baseline.</summary>
    public FairnessMetrics? MeasuredFairness { get; init; }

    /// <summary>v_γ for γ = 1 … <see cref="Gamma"/> (element γ − 1) from the verifier cost profile; null without one.</summary>
    public IReadOnlyList<double>? VerificationCostProfile { get; init; }

    /// <summary>
    /// s_γ for γ = 1 … G (element γ − 1): a speculative step's wall time at γ over a baseline token's, measured in the decode
    /// loop (<see cref="SuiteAnalyzer.StepCostProfile"/>); γ* and the per-γ predictions come from it. Null without one.
    /// </summary>
    public IReadOnlyList<double>? StepCostProfile { get; init; }

    /// <summary>b: the baseline arm's time per generated token, ms, pooled over every prompt with a baseline; null without one.</summary>
    public double? BaselineMsPerToken { get; init; }
}

/// <summary>Turns per-prompt statistics of each task into task metrics and suite fairness.</summary>
public static class SuiteAnalyzer
{
    public static SuiteMetrics Analyze(
        IReadOnlyList<(string TaskId, IReadOnlyList<PromptStatistics> Prompts)> tasks,
        int gamma,
        SuiteAnalysisOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        options ??= new SuiteAnalysisOptions();
        if (tasks.Count == 0)
        {
            throw new ArgumentException("a suite needs at least one task", nameof(tasks));
        }

        var all = tasks.SelectMany(t => t.Prompts).ToList();
        var costRatio = options.CostRatio ?? MeasuredCostRatio(all)
            ?? throw new InvalidOperationException("the cost ratio c is unknown: run the autoregressive baseline or give it explicitly");
        // v_γ of the decode loop from the tasks drafted at the suite's γ (a gated run's other tasks drafted at their own).
        var atSuiteGamma = tasks
            .Where(t => options.TaskGammas is null || !options.TaskGammas.TryGetValue(t.TaskId, out var own) || own == gamma)
            .SelectMany(t => t.Prompts).ToList();
        var rawProfile = options.VerificationCostRatio is null ? VerificationCostProfile(all, gamma) : null;
        var loopRatio = MeasuredVerificationRatio(atSuiteGamma);
        var verificationRatio = options.VerificationCostRatio ?? loopRatio ?? rawProfile?[^1] ?? 1.0;
        var profile = loopRatio is { } loop ? Anchor(rawProfile, loop) : rawProfile;
        var stepCosts = StepCostProfile(all);
        var metrics = tasks.Select(t => AnalyzeTask(t.TaskId, t.Prompts, gamma, costRatio, verificationRatio, options, profile, stepCosts)).ToList();
        var klUnfairness = FairnessMetrics.UnfairnessOf([.. metrics.Select(m => m.Kl)]);
        var fairness = FairnessMetrics.Compute([.. metrics.Select(m => (m.TaskId, m.CrossEntropy, m.AnalyticalSpeedup))]) with { KlUnfairness = klUnfairness };
        var measured = metrics.All(m => m.MeasuredSpeedup is not null)
            ? FairnessMetrics.Compute([.. metrics.Select(m => (m.TaskId, m.CrossEntropy, m.MeasuredSpeedup!.Value))]) with { KlUnfairness = klUnfairness }
            : null;

        return new SuiteMetrics
        {
            Gamma = gamma,
            CostRatio = costRatio,
            VerificationCostRatio = verificationRatio,
            Tasks = metrics,
            Fairness = fairness,
            MeasuredFairness = measured,
            VerificationCostProfile = profile,
            StepCostProfile = stepCosts,
            BaselineMsPerToken = BaselineMsPerToken(all),
        };
    }

    /// <summary>Σ baseline ms / Σ baseline tokens over the prompts with a baseline; null when none has one.</summary>
    public static double? BaselineMsPerToken(IEnumerable<PromptStatistics> prompts)
    {
        var withBaseline = prompts.Where(p => p.BaselineMs > 0 && p.BaselineTokens > 0).ToList();
        return withBaseline.Count == 0 ? null : withBaseline.Sum(p => p.BaselineMs!.Value) / withBaseline.Sum(p => p.BaselineTokens!.Value);
    }

    public static TaskMetrics AnalyzeTask(
        string taskId, IReadOnlyList<PromptStatistics> prompts, int gamma, double costRatio, double verificationRatio, SuiteAnalysisOptions options,
        IReadOnlyList<double>? verificationProfile = null, IReadOnlyList<double>? stepCosts = null)
    {
        if (prompts.Count == 0)
        {
            throw new ArgumentException($"task '{taskId}' has no prompt statistics", nameof(prompts));
        }

        // The task's own γ (0 = plain decoding, whose statistics come from an untimed pass at γ = 1).
        var taskGamma = options.TaskGammas is { } own && own.TryGetValue(taskId, out var g0) ? g0 : gamma;
        var plain = taskGamma == 0;
        var draftGamma = plain ? 1 : taskGamma;
        var taskVerification = taskGamma == gamma || verificationProfile is null || taskGamma > verificationProfile.Count
            ? verificationRatio
            : plain ? 1 : verificationProfile[taskGamma - 1];
        var positions = prompts.Sum(p => p.Positions);
        var alpha = Ratio(prompts.Sum(p => p.AlphaSum), positions);
        var crossEntropy = Ratio(prompts.Sum(p => p.CrossEntropySum), positions);
        var kl = Ratio(prompts.Sum(p => p.KlSum), positions);
        var perPrefixTokens = Ratio(prompts.Sum(p => p.PerPrefixTokensSum), positions);
        if (positions == 0 || !double.IsFinite(alpha) || !double.IsFinite(crossEntropy) || !double.IsFinite(kl))
        {
            // A NaN here would make U NaN and the mitigation decision silently "none" (NaN > threshold is false).
            throw new InvalidDataException(
                $"task '{taskId}' has no usable statistics (α_T {alpha}, D_T {crossEntropy}, KL_T {kl} over {positions} prefixes): " +
                "none of its prompts left a reference prefix (every continuation empty, or every prompt at the context length)");
        }

        var drafted = prompts.Sum(p => p.Drafted);
        var accepted = prompts.Sum(p => p.Accepted);
        var steps = prompts.Sum(p => p.Steps);
        var hasBaseline = prompts.All(p => p.BaselineMs is not null && p.BaselineTokens > 0 && p.GeneratedTokens > 0);

        ConfidenceInterval Ci(Func<PromptStatistics, double> numerator, Func<PromptStatistics, double> denominator, int seedOffset) =>
            Bootstrap.Percentile(
                prompts.Count,
                counts =>
                {
                    double num = 0, den = 0;
                    for (var i = 0; i < counts.Length; i++)
                    {
                        num += counts[i] * numerator(prompts[i]);
                        den += counts[i] * denominator(prompts[i]);
                    }

                    return num / den;
                },
                options.BootstrapResamples,
                options.ConfidenceLevel,
                options.Seed + seedOffset);

        double? measured = null;
        ConfidenceInterval? measuredCi = null;
        if (hasBaseline)
        {
            measured = MeasuredSpeedup(prompts);
            measuredCi = Bootstrap.Percentile(prompts.Count, counts => MeasuredSpeedup(prompts, counts), options.BootstrapResamples, options.ConfidenceLevel, options.Seed + 2);
        }

        var acceptedPast = new double[draftGamma];
        var acceptanceRate = new double[draftGamma];
        for (var i = 0; i < draftGamma; i++)
        {
            static int Sum(IReadOnlyList<PromptStatistics> prompts, Func<PromptStatistics, int[]> counts, int i) =>
                prompts.Sum(p => i < counts(p).Length ? counts(p)[i] : 0);
            var proposed = Sum(prompts, p => p.ProposedAt, i);
            var reached = Sum(prompts, p => p.ReachedAt, i);
            var acceptedAt = Sum(prompts, p => p.AcceptedAt, i);
            acceptedPast[i] = proposed > 0 ? (double)acceptedAt / proposed : double.NaN;
            acceptanceRate[i] = reached > 0 ? (double)acceptedAt / reached : double.NaN;
        }

        // The draft length that pays (method.md §5): f_γ(α_T) over a step's cost at γ — measured in the decode loop where
        // the run has a step-cost profile, else γc + v_γ — for γ = 1 … G, and 1 for γ = 0 (plain decoding). α_T is taken
        // on reference prefixes, which do not depend on γ.
        var byGamma = !double.IsFinite(alpha) ? null
            : stepCosts is { Count: > 0 } ? Mitigation.DraftLength.PredictFromStepCosts(alpha, stepCosts)
            : verificationProfile is { Count: > 0 } ? Mitigation.DraftLength.Predict(alpha, costRatio, verificationProfile)
            : null;

        var optimalGamma = byGamma is null ? (int?)null : Array.IndexOf(byGamma, byGamma.Max());
        var halfWidth = RelativeHalfWidth(measured, measuredCi);
        var taskCost = MeasuredCostRatio(prompts);
        var alphaCi = Ci(p => p.AlphaSum, p => p.Positions, 0);
        var perPrefixCi = Ci(p => p.PerPrefixTokensSum, p => p.Positions, 5);
        ConfidenceInterval Map(ConfidenceInterval ci, Func<double, double> increasing) => new(increasing(ci.Lower), increasing(ci.Upper));
        return new TaskMetrics
        {
            TaskId = taskId,
            Prompts = prompts.Count,
            Steps = steps,
            DraftedTokens = drafted,
            AcceptedTokens = accepted,
            GeneratedTokens = prompts.Sum(p => p.GeneratedTokens),
            AcceptanceRate = Ratio(accepted, drafted),
            AcceptanceRateCi = Ci(p => p.Accepted, p => p.Drafted, 3),
            Alpha = alpha,
            AlphaCi = alphaCi,
            CrossEntropy = crossEntropy,
            CrossEntropyCi = Ci(p => p.CrossEntropySum, p => p.Positions, 1),
            Kl = kl,
            KlCi = Ci(p => p.KlSum, p => p.Positions, 4),
            MeanAcceptedLength = Ratio(prompts.Sum(p => p.Emitted), steps),
            MeanAcceptedLengthCi = Ci(p => p.Emitted, p => p.Steps, 6),
            CostRatio = taskCost,
            VerificationCostRatio = MeasuredVerificationRatio(prompts),
            Gamma = taskGamma,
            AnalyticalSpeedup = plain ? 1 : SpeculativeMath.AnalyticalSpeedup(alpha, taskGamma, costRatio),
            AnalyticalSpeedupCi = plain ? new(1, 1) : Map(alphaCi, a => SpeculativeMath.AnalyticalSpeedup(a, taskGamma, costRatio)),
            ExpectedSpeedupPerPrefix = plain ? 1 : perPrefixTokens / (1 + taskGamma * costRatio),
            ExpectedSpeedupPerPrefixCi = plain ? new(1, 1) : Map(perPrefixCi, t => t / (1 + taskGamma * costRatio)),
            RefinedSpeedup = plain ? 1 : SpeculativeMath.RefinedSpeedup(alpha, taskGamma, costRatio, taskVerification),
            RefinedSpeedupCi = plain ? new(1, 1) : Map(alphaCi, a => SpeculativeMath.RefinedSpeedup(a, taskGamma, costRatio, taskVerification)),
            MeasuredSpeedup = measured,
            MeasuredSpeedupCi = measuredCi,
            MeasuredSpeedupHalfWidth = halfWidth,
            MeasuredSpeedupTooWide = halfWidth is not { } width || width > options.ReadableHalfWidth,
            SpeedupBound = options.Greedy || plain ? double.NaN : SpeculativeMath.SpeedupBound(kl, taskGamma, costRatio),
            SpeedupBoundCrossEntropy = options.Greedy || plain ? double.NaN : SpeculativeMath.SpeedupBound(crossEntropy, taskGamma, costRatio),
            AcceptanceRateByPosition = acceptanceRate,
            AcceptedPastPosition = acceptedPast,
            PredictedSpeedupByGamma = byGamma,
            OptimalGamma = optimalGamma,
            OptimalGammaSpeedup = optimalGamma is { } best ? byGamma![best] : null,
        };
    }

    /// <summary>
    /// The measured speed-up of prompts that all timed a baseline, each counted <paramref name="counts"/>[i] times (once
    /// when null): pooled per-token times, a ratio of sums. In sampling mode the baseline draws its own tokens and stops
    /// at its own stop token, and a per-prompt ratio over a generation of a few tokens would dominate a mean of ratios.
    /// </summary>
    public static double MeasuredSpeedup(IReadOnlyList<PromptStatistics> prompts, IReadOnlyList<int>? counts = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        double baselineMs = 0, baselineTokens = 0, speculativeMs = 0, speculativeTokens = 0;
        for (var i = 0; i < prompts.Count; i++)
        {
            var w = counts?[i] ?? 1;
            baselineMs += w * prompts[i].BaselineMs!.Value;
            baselineTokens += w * prompts[i].BaselineTokens!.Value;
            speculativeMs += w * prompts[i].SpeculativeMs;
            speculativeTokens += w * prompts[i].GeneratedTokens;
        }

        return baselineMs / baselineTokens / (speculativeMs / speculativeTokens);
    }

    /// <summary>
    /// v_γ for γ = 1 … G (element γ − 1) from the prompts' verifier cost profiles (<see cref="PromptStatistics.VerifierCallMs"/>):
    /// the median over prompts of the (γ+1)-position call over the median of the 1-position call (medians: each call is
    /// timed once, so one preempted call must not move the profile). Null when no prompt has a full profile.
    /// </summary>
    public static double[]? VerificationCostProfile(IEnumerable<PromptStatistics> prompts, int gamma)
    {
        var profiles = prompts.Select(p => p.VerifierCallMs).OfType<double[]>().Where(p => p.Length == gamma + 1).ToList();
        if (profiles.Count == 0)
        {
            return null;
        }

        var single = Median(profiles.Select(p => p[0]));
        return single > 0 ? [.. Enumerable.Range(1, gamma).Select(g => Median(profiles.Select(p => p[g])) / single)] : null;
    }

    /// <summary>
    /// s_γ for γ = 1 … G (element γ − 1) from the prompts' step-cost profiles (<see cref="PromptStatistics.StepMsByGamma"/>):
    /// per prompt, a speculative step's wall time at γ over the same prompt's baseline wall time per token; the median over
    /// prompts (each γ was timed once per prompt, so one preempted generation must not move the profile). Null when no
    /// prompt has a complete profile.
    /// </summary>
    public static double[]? StepCostProfile(IEnumerable<PromptStatistics> prompts)
    {
        var profiles = prompts
            .Where(p => p.StepMsByGamma is { Length: > 0 } steps && steps.All(double.IsFinite) && p.BaselineMs > 0 && p.BaselineTokens > 0)
            .Select(p => (Steps: p.StepMsByGamma!, TokenMs: p.BaselineMs!.Value / p.BaselineTokens!.Value))
            .ToList();
        if (profiles.Count == 0)
        {
            return null;
        }

        var gamma = profiles.Max(p => p.Steps.Length);
        var complete = profiles.Where(p => p.Steps.Length == gamma).ToList();
        return [.. Enumerable.Range(0, gamma).Select(g => Median(complete.Select(p => p.Steps[g] / p.TokenMs)))];
    }

    /// <summary>
    /// Anchors the profile on the decode loop's v_γ at the run's γ: v'_k = 1 + (v_k − 1)·(v_loop − 1)/(v_G − 1). Calls
    /// timed back to back run with warm caches and spinning threads, calls inside the decode loop do not, so the raw
    /// profile can be cheaper than what the run measured; anchored, the prediction at the run's γ equals the refined one
    /// and the other draft lengths keep the profile's shape. Raw when the profile is flat (v_G ≤ 1.01).
    /// </summary>
    private static double[]? Anchor(double[]? profile, double loopRatio)
    {
        if (profile is null || profile[^1] <= 1.01 || !double.IsFinite(loopRatio))
        {
            return profile;
        }

        var scale = (loopRatio - 1) / (profile[^1] - 1);
        return [.. profile.Select(v => 1 + ((v - 1) * scale))];
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>c = mean drafter call time / mean verifier single-position time (from the baseline's decode loop).</summary>
    public static double? MeasuredCostRatio(IEnumerable<PromptStatistics> prompts)
    {
        // Every drafter call counts, those of plain-decoded prompts' statistics passes too: a call costs what it costs.
        var list = prompts as IReadOnlyCollection<PromptStatistics> ?? [.. prompts];
        var single = SinglePositionMs(list);
        var calls = list.Sum(p => p.DrafterCalls);
        return single is > 0 && calls > 0 ? list.Sum(p => p.DrafterMs) / calls / single : null;
    }

    /// <summary>v_γ = mean verifier time per speculative step / verifier single-position time.</summary>
    public static double? MeasuredVerificationRatio(IEnumerable<PromptStatistics> prompts)
    {
        var list = DraftedAtTaskGamma(prompts);
        var single = SinglePositionMs(list);
        var steps = list.Sum(p => p.Steps);
        return single is > 0 && steps > 0 ? list.Sum(p => p.VerifierMs) / steps / single : null;
    }

    /// <summary>Prompts drafted at the task's γ (a plain-decoded prompt's steps come from a statistics pass at γ = 1).</summary>
    private static List<PromptStatistics> DraftedAtTaskGamma(IEnumerable<PromptStatistics> prompts) => [.. prompts.Where(p => !p.Plain)];

    private static double? SinglePositionMs(IReadOnlyCollection<PromptStatistics> prompts)
    {
        var withBaseline = prompts.Where(p => p.BaselineStepMs is not null && p.BaselineTokens > 0).ToList();
        if (withBaseline.Count == 0)
        {
            return null;
        }

        var tokens = withBaseline.Sum(p => p.BaselineTokens!.Value);
        return withBaseline.Sum(p => p.BaselineStepMs!.Value * p.BaselineTokens!.Value) / tokens;
    }

    /// <summary>(upper − lower) / 2 / value; null without a value or interval, +∞ for a degenerate one.</summary>
    private static double? RelativeHalfWidth(double? value, ConfidenceInterval? ci) => value is { } v && ci is not null
        ? v > 0 && double.IsFinite(ci.Lower) && double.IsFinite(ci.Upper) ? (ci.Upper - ci.Lower) / 2 / v : double.PositiveInfinity
        : null;

    private static double Ratio(double numerator, double denominator) => denominator > 0 ? numerator / denominator : double.NaN;
}
