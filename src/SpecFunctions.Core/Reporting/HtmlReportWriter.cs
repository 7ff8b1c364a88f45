using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;

namespace SpecFunctions.Core.Reporting;

/// <summary>
/// Renders an <see cref="EvaluationReport"/> as one self-contained HTML file: inline CSS and SVG, no scripts, fonts or
/// links to fetch, so it works offline and from a blob. The markup is well-formed XML (XHTML-compatible), built as an
/// XML tree so that escaping cannot be forgotten.
/// <para>Stable hooks for tests and tools: <c>table#tasks-table</c> rows carry <c>data-task</c>; charts are
/// <c>svg#chart-alpha</c>, <c>svg#chart-speedup</c>, <c>svg#chart-position</c> and, with a mitigation,
/// <c>svg#chart-mitigation-unfairness</c> and <c>svg#chart-mitigation-speedup</c>. Every bar is a <c>rect.bar</c> with
/// <c>data-series</c>, <c>data-value</c> (round-trip invariant number) and <c>data-task</c> (or <c>data-phase</c>);
/// confidence intervals are <c>line.ci</c> with <c>data-lower</c>/<c>data-upper</c>; bound ticks are <c>line.bound</c>.</para>
/// </summary>
public static class HtmlReportWriter
{
    private static readonly XNamespace H = HtmlDocument.H;
    private static readonly XNamespace S = "http://www.w3.org/2000/svg";

    // No '<', '>' or '&' in the CSS: the style element is raw text to an HTML parser but escaped text in XML.
    private const string Css = """
        :root { color-scheme: light; }
        body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; margin: 24px 32px; color: #1f2328; background: #fff; }
        h1 { font-size: 22px; margin: 0 0 4px 0; }
        h3 { font-size: 14px; margin: 16px 0 4px 0; color: #57606a; }
        h2 { font-size: 17px; margin: 28px 0 8px 0; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
        p.meta { color: #57606a; margin: 0 0 12px 0; font-size: 13px; }
        p.note { color: #57606a; font-size: 12px; max-width: 1100px; }
        dl.summary { display: grid; grid-template-columns: max-content auto; gap: 4px 16px; font-size: 14px; margin: 0; }
        dl.summary dt { color: #57606a; }
        dl.summary dd { margin: 0; font-variant-numeric: tabular-nums; }
        table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
        div.table-scroll { overflow-x: auto; max-width: 100%; }
        th, td { border: 1px solid #d0d7de; padding: 3px 6px; text-align: right; white-space: nowrap; }
        th { background: #f6f8fa; font-weight: 600; white-space: normal; vertical-align: bottom; min-width: 48px; }
        td.task, th.task { text-align: left; font-weight: 600; }
        td.too-wide { color: #a15c00; font-style: italic; }
        tr.worst td { background: #fff1e5; }
        svg.chart { display: block; margin: 4px 0 4px 0; }
        svg.chart text { font-size: 11px; fill: #1f2328; }
        svg.chart text.axis-title { font-size: 12px; fill: #57606a; }
        svg.chart .grid { stroke: #eaeef2; stroke-width: 1; }
        svg.chart .axis { stroke: #57606a; stroke-width: 1; }
        svg.chart .one { stroke: #57606a; stroke-width: 1; stroke-dasharray: 4 3; }
        svg.chart .ci { stroke: #1f2328; stroke-width: 1.5; }
        svg.chart .bound { stroke: #cf222e; stroke-width: 2.5; }
        svg.chart .s0 { fill: #0969da; }
        svg.chart .s1 { fill: #bf8700; }
        svg.chart .s2 { fill: #8250df; }
        svg.chart .s3 { fill: #1a7f37; }
        svg.chart .p0 { fill: #0a3069; }
        svg.chart .p1 { fill: #0550ae; }
        svg.chart .p2 { fill: #0969da; }
        svg.chart .p3 { fill: #218bff; }
        svg.chart .p4 { fill: #54aeff; }
        svg.chart .p5 { fill: #80ccff; }
        svg.chart .p6 { fill: #b6e3ff; }
        svg.chart .p7 { fill: #ddf4ff; }
        svg.chart .before { fill: #8c959f; }
        svg.chart .after { fill: #1a7f37; }
        svg.chart .legend-bound { stroke: #cf222e; stroke-width: 2.5; }
        """;

    /// <summary>The report as an HTML document (UTF-8 text).</summary>
    public static string Write(EvaluationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var html = new XElement(H + "html", new XAttribute("lang", "en"),
            new XElement(H + "head",
                new XElement(H + "meta", new XAttribute("charset", "utf-8")),
                new XElement(H + "meta", new XAttribute("name", "viewport"), new XAttribute("content", "width=device-width, initial-scale=1")),
                new XElement(H + "title", $"SpecFunctions report: {report.RunId}"),
                new XElement(H + "style", Css)),
            new XElement(H + "body", Body(report)));

        return HtmlDocument.Write(html).Append('\n').ToString();
    }

    public static Task WriteAsync(EvaluationReport report, Stream output, CancellationToken cancellationToken = default) =>
        HtmlDocument.WriteUtf8Async(Write(report), output, cancellationToken);

    private static IEnumerable<XElement> Body(EvaluationReport report)
    {
        var suite = report.Suite;
        var fairness = suite.Fairness;
        yield return new XElement(H + "h1", $"Speculative decoding evaluation: {report.RunId}");
        yield return new XElement(H + "p", new XAttribute("class", "meta"),
            $"drafter {Model(report.Drafter)} · verifier {Model(report.Verifier)} · γ = {suite.Gamma} · c = {F(suite.CostRatio, 4)} · " +
            $"v_γ = {F(suite.VerificationCostRatio, 3)} · generated {report.GeneratedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC");

        if (report.Warnings.Count > 0)
        {
            yield return new XElement(H + "section", new XAttribute("id", "warnings"),
                new XElement(H + "h2", "Warnings"),
                new XElement(H + "ul", report.Warnings.Select(w => new XElement(H + "li", new XAttribute("class", "warning"), w))));
        }

        yield return new XElement(H + "section", new XAttribute("id", "summary"),
            new XElement(H + "h2", "Fairness"),
            new XElement(H + "dl", new XAttribute("class", "summary"),
                Pair("Unfairness U = (1/m) Σ (D_T − D̄)²", F(fairness.Unfairness, 6) + " nats²", "unfairness", fairness.Unfairness),
                fairness.KlUnfairness is { } klUnfairness
                    ? Pair("U_KL = (1/m) Σ (KL_T − KL̄)²", F(klUnfairness, 6) + " nats²", "kl-unfairness", klUnfairness)
                    : null,
                Pair("Mean cross-entropy D̄", F(fairness.MeanCrossEntropy, 4) + " nats", "mean-cross-entropy", fairness.MeanCrossEntropy),
                Pair("Mean analytical speed-up", F(fairness.MeanSpeedup, 3) + "×", "mean-speedup", fairness.MeanSpeedup),
                Pair("Speed-up variance", F(fairness.SpeedupVariance, 5), "speedup-variance", fairness.SpeedupVariance),
                Pair("Speed-up range (max − min)", F(fairness.SpeedupRange, 3), "speedup-range", fairness.SpeedupRange),
                Pair("min S_T / max S_T", F(fairness.MinMaxSpeedupRatio, 3), "min-max-ratio", fairness.MinMaxSpeedupRatio),
                new XElement(H + "dt", "Worst task"),
                new XElement(H + "dd", new XAttribute("id", "worst-task"), fairness.WorstTask),
                suite.MeasuredFairness is { } measured
                    ? Pair("Measured speed-up range", F(measured.SpeedupRange, 3) + $" (worst: {measured.WorstTask})", "measured-speedup-range", measured.SpeedupRange)
                    : null));

        yield return new XElement(H + "section", new XAttribute("id", "tasks"),
            new XElement(H + "h2", "Per task"),
            new XElement(H + "div", new XAttribute("class", "table-scroll"), TaskTable(report)));

        var tasks = report.Tasks;
        var ids = tasks.Select(t => t.TaskId).ToList();

        yield return new XElement(H + "section", new XAttribute("id", "alpha"),
            new XElement(H + "h2", "Acceptance α_T per task (bars: mean exact α(s); whiskers: bootstrap CI over prompts)"),
            BarChart("chart-alpha", "task", ids,
                [new Series("alpha", "α_T", "s0", [.. tasks.Select(t => (double?)t.Alpha)], [.. tasks.Select(t => t.AlphaCi)])],
                [], "α_T", yMax: 1.0, referenceOne: false));

        yield return new XElement(H + "section", new XAttribute("id", "speedup"),
            new XElement(H + "h2", "Speed-up per task: measured vs analytical, with the Theorem-1 lower bound"),
            BarChart("chart-speedup", "task", ids,
                [
                    new Series("measured", "measured (baseline / speculative time per token)", "s0", [.. tasks.Select(t => t.MeasuredSpeedup)], [.. tasks.Select(t => t.MeasuredSpeedupCi)]),
                    new Series("analytical", "analytical S_T = f_γ(α_T)/(1+γc)", "s1", [.. tasks.Select(t => (double?)t.AnalyticalSpeedup)], [.. tasks.Select(t => t.AnalyticalSpeedupCi)]),
                    new Series("refined", "refined f_γ(α_T)/(γc+v_γ)", "s2", [.. tasks.Select(t => (double?)t.RefinedSpeedup)], [.. tasks.Select(t => t.RefinedSpeedupCi)]),
                ],
                [new Marker("bound", "Theorem-1 bound f_γ(1−√(KL_T/2))/(1+γc)", [.. tasks.Select(t => t.SpeedupBound)])],
                "speed-up ×", yMax: null, referenceOne: true),
            new XElement(H + "p", new XAttribute("class", "note"),
                "The dashed line marks 1× (no gain). The red tick is the Theorem-1 lower bound on the analytical speed-up; " +
                "the measured speed-up should track the refined prediction, which charges the verifier's real cost of scoring γ+1 positions."));

        var gamma = report.Suite.Gamma;
        IEnumerable<Series> ByPosition(string prefix, Func<TaskReport, double[]> values) =>
            Enumerable.Range(0, gamma).Select(i => new Series(
                $"{prefix}-{i + 1}", $"position {i + 1}", $"p{Math.Min(i, 7)}",
                [.. tasks.Select(t => i < values(t).Length ? values(t)[i] : (double?)null)], null,
                Position: i + 1));
        yield return new XElement(H + "section", new XAttribute("id", "position"),
            new XElement(H + "h2", "Acceptance rate by draft position (accepted at i / drafts verified at i)"),
            BarChart("chart-position", "task", ids, [.. ByPosition("position", t => t.AcceptanceRateByPosition)], [], "acceptance rate", yMax: 1.0, referenceOne: false),
            new XElement(H + "p", new XAttribute("class", "note"),
                "A draft is verified only when every earlier draft of its step was accepted; this rate is close to α(s) at that depth."),
            new XElement(H + "h2", "Accepted length past draft position i (P(accepted length > i))"),
            BarChart("chart-accepted-past", "task", ids, [.. ByPosition("past", t => t.AcceptedPastPosition)], [], "fraction of steps", yMax: 1.0, referenceOne: false));

        if (report.Mitigation is { } mitigation)
        {
            var mitigated = mitigation.Tasks;
            yield return new XElement(H + "section", new XAttribute("id", "mitigation"),
                new XElement(H + "h2", $"Mitigation: {mitigation.Strategy} ({(mitigation.Promoted ? "promoted" : "not promoted")})"),
                new XElement(H + "dl", new XAttribute("class", "summary"),
                    Pair("U before → after", $"{F(mitigation.UnfairnessBefore, 6)} → {F(mitigation.UnfairnessAfter, 6)} ({Change(mitigation.UnfairnessBefore, mitigation.UnfairnessAfter)})", "mitigation-unfairness-after", mitigation.UnfairnessAfter),
                    Pair("Mean speed-up before → after", $"{F(mitigation.MeanSpeedupBefore, 3)} → {F(mitigation.MeanSpeedupAfter, 3)}", "mitigation-speedup-after", mitigation.MeanSpeedupAfter)),
                new XElement(H + "h3", "Unfairness U before and after"),
                BarChart("chart-mitigation-unfairness", "phase", ["before", "after"],
                    [new Series("unfairness", "U", "before", [mitigation.UnfairnessBefore, mitigation.UnfairnessAfter], null, PerCategoryClass: ["before", "after"])],
                    [], "U (nats²)", yMax: null, referenceOne: false, width: 420),
                new XElement(H + "h3", "Speed-up per task before and after"),
                BarChart("chart-mitigation-speedup", "task", [.. mitigated.Select(t => t.TaskId)],
                    [
                        new Series("before", "speed-up before", "before", [.. mitigated.Select(t => (double?)t.SpeedupBefore)], null),
                        new Series("after", "speed-up after", "after", [.. mitigated.Select(t => (double?)t.SpeedupAfter)], null),
                    ],
                    [], "speed-up ×", yMax: null, referenceOne: true),
                MitigationTable(mitigation));
        }

        if (report.Decision is { } decision)
        {
            yield return new XElement(H + "section", new XAttribute("id", "decision"),
                new XElement(H + "h2", $"Decision: {decision.Action}"),
                new XElement(H + "p", decision.Reason),
                decision.Inputs.Count == 0
                    ? null
                    : new XElement(H + "dl", new XAttribute("class", "summary"),
                        decision.Inputs.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                            .SelectMany(kv => new[] { new XElement(H + "dt", kv.Key), new XElement(H + "dd", F(kv.Value, 6)) })));
        }

        if (report.Regression is { } regression)
        {
            yield return new XElement(H + "section", new XAttribute("id", "regression"),
                new XAttribute("data-regressed", regression.Regressed ? "true" : "false"),
                new XElement(H + "h2", $"Regression check against run {regression.PreviousRunId}: {(regression.Regressed ? "REGRESSED" : "no regression")}"),
                regression.Reasons.Count == 0 ? null : new XElement(H + "ul", regression.Reasons.Select(r => new XElement(H + "li", r))),
                new XElement(H + "dl", new XAttribute("class", "summary"),
                    Pair("U before → after", $"{F(regression.UnfairnessBefore, 6)} → {F(regression.UnfairnessAfter, 6)}", "regression-unfairness-after", regression.UnfairnessAfter),
                    Pair($"Worst-task speed-up ({regression.SpeedupBasis}) before → after",
                        $"{F(regression.WorstSpeedupBefore, 3)} ({regression.WorstTaskBefore}) → {F(regression.WorstSpeedupAfter, 3)} ({regression.WorstTaskAfter})",
                        "regression-worst-speedup-after", regression.WorstSpeedupAfter),
                    Pair("Thresholds", $"U +{F(regression.Thresholds.UnfairnessIncrease, 4)}, worst speed-up −{F(regression.Thresholds.WorstSpeedupDrop * 100, 1)}%", "regression-thresholds", null)),
                new XElement(H + "table", new XAttribute("id", "regression-table"),
                    new XElement(H + "thead", new XElement(H + "tr",
                        new XElement(H + "th", new XAttribute("class", "task"), "task"), new XElement(H + "th", "speed-up before"), new XElement(H + "th", "speed-up after"))),
                    new XElement(H + "tbody", regression.Tasks.Select(t => new XElement(H + "tr",
                        new XAttribute("data-task", t.TaskId),
                        new XElement(H + "td", new XAttribute("class", "task"), t.TaskId),
                        Td(F(t.SpeedupBefore, 3), "speedup-before", t.SpeedupBefore),
                        Td(F(t.SpeedupAfter, 3), "speedup-after", t.SpeedupAfter))))));
        }

        if (report.Prediction is { } prediction)
        {
            XElement Row(string what, string predicted, string actual) =>
                new(H + "tr", new XElement(H + "td", new XAttribute("class", "task"), what), new XElement(H + "td", predicted), new XElement(H + "td", actual));
            yield return new XElement(H + "section", new XAttribute("id", "prediction"),
                new XElement(H + "h2", $"Predicted against actual ({prediction.Replicas} replica(s); profile: {prediction.ProfileSource})"),
                new XElement(H + "table", new XAttribute("id", "prediction-table"),
                    new XElement(H + "thead", new XElement(H + "tr",
                        new XElement(H + "th", new XAttribute("class", "task"), "figure"), new XElement(H + "th", "predicted"), new XElement(H + "th", "actual"))),
                    new XElement(H + "tbody",
                        Row("wall time (s)", F(prediction.PredictedWallSeconds, 1), F(prediction.ActualWallSeconds, 1)),
                        Row("verifier ms/token", F(prediction.PredictedVerifierMsPerToken, 3), F(prediction.ActualVerifierMsPerToken, 3)),
                        Row("drafter ms/token", F(prediction.PredictedDrafterMsPerToken, 3), F(prediction.ActualDrafterMsPerToken, 3)),
                        Row("α", F(prediction.PredictedAlpha, 3), F(prediction.ActualAlpha, 3)),
                        Row("GPU-seconds, cost", $"{F(prediction.PredictedGpuSeconds, 1)}, {F(prediction.PredictedCost, 4)}", "—"))));
        }

        if (report.IncompleteTasks.Count > 0)
        {
            yield return new XElement(H + "section", new XAttribute("id", "incomplete"),
                new XElement(H + "h2", "Tasks without a committed trace (not in the figures above)"),
                new XElement(H + "ul", report.IncompleteTasks.Select(t =>
                    new XElement(H + "li", new XAttribute("data-task", t.TaskId), $"{t.TaskId}: {t.Status.ToString().ToLowerInvariant()}{(t.Error is null ? string.Empty : " (" + t.Error + ")")}"))));
        }

        yield return new XElement(H + "p", new XAttribute("class", "note"),
            "α_T: mean over drafted prefixes of the exact acceptance probability Σ min(p, q). D_T and KL_T in nats. " +
            "Mean accepted length counts the bonus/correction token (plain decoding = 1.0). Intervals: percentile bootstrap over prompts. " +
            "U weighs tasks uniformly (1/m). γ*: the draft length with the highest predicted speed-up f_γ(α_T)/(γc + v_γ), v_γ from " +
            "the verifier cost profile; 0 = plain decoding pays more than any draft. A measured speed-up marked ? has an interval too " +
            "wide to read. Method: arXiv 2510.02128.");
    }

    private static XElement TaskTable(EvaluationReport report)
    {
        string[] headers =
        [
            "task", "status", "prompts", "drafted", "accepted", "acceptance rate", "α_T", "α_T CI", "D_T (nats)", "KL_T (nats)",
            "mean accepted length", "S_T analytical", "E_s per-prefix", "refined", "measured", "measured CI", "Theorem-1 bound", "γ* (predicted)",
        ];
        var worst = report.Suite.Fairness.WorstTask;
        return new XElement(H + "table", new XAttribute("id", "tasks-table"),
            new XElement(H + "thead", new XElement(H + "tr", headers.Select((h, i) => new XElement(H + "th", i == 0 ? new XAttribute("class", "task") : null, h)))),
            new XElement(H + "tbody", report.Tasks.Select(t => new XElement(H + "tr",
                new XAttribute("data-task", t.TaskId),
                t.TaskId == worst ? new XAttribute("class", "worst") : null,
                new XElement(H + "td", new XAttribute("class", "task"), t.TaskId),
                Td(t.Status.ToString().ToLowerInvariant()),
                Td(t.Prompts.ToString(CultureInfo.InvariantCulture)),
                Td(t.DraftedTokens.ToString(CultureInfo.InvariantCulture)),
                Td(t.AcceptedTokens.ToString(CultureInfo.InvariantCulture)),
                Td(WithInterval(t.AcceptanceRate, t.AcceptanceRateCi, 3)),
                Td(F(t.Alpha, 3), "alpha", t.Alpha),
                Td(Interval(t.AlphaCi, 3)),
                Td(WithInterval(t.CrossEntropy, t.CrossEntropyCi, 3), "cross-entropy", t.CrossEntropy),
                Td(WithInterval(t.Kl, t.KlCi, 3)),
                Td(WithInterval(t.MeanAcceptedLength, t.MeanAcceptedLengthCi, 2)),
                Td(WithInterval(t.AnalyticalSpeedup, t.AnalyticalSpeedupCi, 3), "analytical-speedup", t.AnalyticalSpeedup),
                Td(WithInterval(t.ExpectedSpeedupPerPrefix, t.ExpectedSpeedupPerPrefixCi, 3)),
                Td(WithInterval(t.RefinedSpeedup, t.RefinedSpeedupCi, 3)),
                MeasuredCell(t),
                Td(Interval(t.MeasuredSpeedupCi, 3)),
                Td(F(t.SpeedupBound, 3), "speedup-bound", t.SpeedupBound),
                Td(t.OptimalGamma is { } best ? $"{(best == 0 ? "0 (plain)" : best.ToString(CultureInfo.InvariantCulture))}: {F(t.OptimalGammaSpeedup, 2)}×" : "—", "optimal-gamma", t.OptimalGamma)))));
    }

    private static XElement MitigationTable(MitigationReport mitigation)
    {
        if (mitigation.Tasks.Any(t => t.GammaAfter is not null))
        {
            return GatingTable(mitigation);
        }

        var kind = mitigation.SpeedupKind == "analytical" ? "S" : mitigation.SpeedupKind;
        string[] headers = ["task", "α before", "α after", "D before", "D after", $"{kind} before", $"{kind} after", "training prompts", "evaluation prompts", "overlap", RatioHeader(mitigation)];
        return new XElement(H + "div", new XAttribute("class", "mitigation"),
            new XElement(H + "table", new XAttribute("id", "mitigation-table"),
            new XElement(H + "thead", new XElement(H + "tr", headers.Select((h, i) => new XElement(H + "th", i == 0 ? new XAttribute("class", "task") : null, h)))),
            new XElement(H + "tbody", mitigation.Tasks.Select(t => new XElement(H + "tr",
                new XAttribute("data-task", t.TaskId),
                new XElement(H + "td", new XAttribute("class", "task"), t.TaskId),
                Td(F(t.AlphaBefore, 3)), Td(F(t.AlphaAfter, 3)),
                Td(F(t.CrossEntropyBefore, 3)), Td(F(t.CrossEntropyAfter, 3)),
                Td(F(t.SpeedupBefore, 3)), Td(F(t.SpeedupAfter, 3)),
                Td(t.TrainingPrompts.ToString(CultureInfo.InvariantCulture), "training-prompts", t.TrainingPrompts),
                Td(t.EvaluationPrompts.ToString(CultureInfo.InvariantCulture), "evaluation-prompts", t.EvaluationPrompts),
                Td(t.PromptOverlap.ToString(CultureInfo.InvariantCulture), "prompt-overlap", t.PromptOverlap),
                RatioCell(t))))),
            RuleNote(mitigation),
            new XElement(H + "p", new XAttribute("class", "note"),
                "Corrective data comes from each task's training prompts only; before and after are both measured on the evaluation prompts, and the overlap of the two sets must be 0."));
    }

    private static string RatioHeader(MitigationReport mitigation) =>
        $"after/before ({(mitigation.Tasks.Select(t => t.SpeedupRatioCi?.Level).FirstOrDefault(l => l is not null) ?? 0.95).ToString("P0", CultureInfo.InvariantCulture)} paired interval)";

    /// <summary>A task's after/before with its paired interval; marked when it is not shown to stay above 1 − margin.</summary>
    private static XElement RatioCell(MitigationTaskReport t) =>
        new(H + "td",
            new XAttribute("data-field", "speedup-ratio"),
            t.SpeedupRatio is { } r ? new XAttribute("data-value", R(r)) : null,
            new XAttribute("data-no-worse-off", t.NoWorseOff ? "true" : "false"),
            t.SpeedupRatio is { } ratio ? $"{F(ratio, 3)} {Interval(t.SpeedupRatioCi, 3)}{(t.NoWorseOff ? "" : " ✗")}" : "–");

    /// <summary>The promotion rule's verdict and the condition that decided it (method.md §6 step 5); nothing for older reports.</summary>
    private static XElement? RuleNote(MitigationReport mitigation) => mitigation.Rule is not { } rule
        ? null
        : new XElement(H + "p",
            new XAttribute("class", "rule"),
            new XAttribute("data-decided-by", JsonSerializer.Serialize(rule.DecidedBy).Trim('"')),
            $"Promotion rule ({rule.Resamples} paired bootstrap resamples over the evaluation prompts; margin {rule.SpeedupMargin.ToString("0.###", CultureInfo.InvariantCulture)}): {rule.Reason}. " +
            "A result is promoted only when (a) its target improved with the interval of the change excluding 0 and (b) no task's after/before has its interval's lower end below 1 − margin; ✗ marks a task not shown to stay above it.");

    /// <summary>The gating strategy's before/after: each task's draft length and its speed-up at each (same drafter, same D_T).</summary>
    private static XElement GatingTable(MitigationReport mitigation)
    {
        string[] headers = ["task", "γ before", "γ after", "dev α (γ chosen on it)", "α_T", "D_T", $"{mitigation.SpeedupKind} speed-up before", $"{mitigation.SpeedupKind} speed-up after", RatioHeader(mitigation)];
        return new XElement(H + "div", new XAttribute("class", "mitigation"),
            new XElement(H + "table", new XAttribute("id", "mitigation-table"),
            new XElement(H + "thead", new XElement(H + "tr", headers.Select((h, i) => new XElement(H + "th", i == 0 ? new XAttribute("class", "task") : null, h)))),
            new XElement(H + "tbody", mitigation.Tasks.Select(t => new XElement(H + "tr",
                new XAttribute("data-task", t.TaskId),
                new XElement(H + "td", new XAttribute("class", "task"), t.TaskId),
                Td(t.GammaBefore?.ToString(CultureInfo.InvariantCulture) ?? "—", "gamma-before", t.GammaBefore),
                Td(t.GammaAfter == 0 ? "0 (plain)" : t.GammaAfter?.ToString(CultureInfo.InvariantCulture) ?? "—", "gamma-after", t.GammaAfter),
                Td(F(t.DevAlpha, 3), "dev-alpha", t.DevAlpha),
                Td(F(t.AlphaBefore, 3)), Td(F(t.CrossEntropyBefore, 3)),
                Td(F(t.SpeedupBefore, 3), "speedup-before", t.SpeedupBefore), Td(F(t.SpeedupAfter, 3), "speedup-after", t.SpeedupAfter),
                RatioCell(t))))),
            RuleNote(mitigation),
            new XElement(H + "p", new XAttribute("class", "note"),
                "Gating re-evaluates each task at the draft length with the highest predicted speed-up (0: plain decoding, no drafter), " +
                "predicted from α on the dev split of the task's training prompts (never the evaluation prompts) and the run's measured costs. " +
                "The drafter and verifier are unchanged, and so are D_T and U, taken on the same reference prefixes whatever the draft length. " +
                "What gating changes is that no task should run slower than plain decoding."));
    }

    private sealed record Series(
        string Name, string Label, string CssClass, double?[] Values, IntervalReport?[]? Intervals,
        int? Position = null, string[]? PerCategoryClass = null);

    private sealed record Marker(string Name, string Label, double[] Values);

    /// <summary>Grouped vertical bar chart: one group per category, one bar per series, optional CI whiskers and marker ticks.</summary>
    private static XElement BarChart(
        string id, string categoryAttribute, IReadOnlyList<string> categories, IReadOnlyList<Series> series, IReadOnlyList<Marker> markers,
        string yTitle, double? yMax, bool referenceOne, int width = 1100)
    {
        const int height = 330, left = 64, right = 16, top = 44, bottom = 64;
        var plotWidth = width - left - right;
        var plotHeight = height - top - bottom;

        var all = series.SelectMany(s => s.Values.Where(v => v is not null).Select(v => v!.Value)
                .Concat(s.Intervals?.Where(ci => ci is not null).Select(ci => ci!.Upper) ?? []))
            .Concat(markers.SelectMany(m => m.Values))
            .Where(double.IsFinite)
            .DefaultIfEmpty(1.0)
            .Max();
        var max = yMax ?? NiceCeiling(Math.Max(all * 1.08, referenceOne ? 1.1 : 0));
        double Y(double value) => top + plotHeight - Math.Clamp(value / max, 0, 1) * plotHeight;

        var svg = new XElement(S + "svg",
            new XAttribute("id", id),
            new XAttribute("class", "chart"),
            new XAttribute("width", width),
            new XAttribute("height", height),
            new XAttribute("viewBox", $"0 0 {width} {height}"),
            new XAttribute("role", "img"),
            new XAttribute("data-categories", categories.Count));

        // Grid and y axis with five ticks.
        for (var i = 0; i <= 5; i++)
        {
            var value = max * i / 5;
            var y = Y(value);
            svg.Add(new XElement(S + "line", new XAttribute("class", "grid"), Attr("x1", left), Attr("x2", left + plotWidth), Attr("y1", y), Attr("y2", y)));
            svg.Add(new XElement(S + "text", Attr("x", left - 6), Attr("y", y + 4), new XAttribute("text-anchor", "end"), F(value, max < 0.05 ? 4 : 2)));
        }

        svg.Add(new XElement(S + "line", new XAttribute("class", "axis"), Attr("x1", left), Attr("x2", left), Attr("y1", top), Attr("y2", top + plotHeight)));
        svg.Add(new XElement(S + "line", new XAttribute("class", "axis"), Attr("x1", left), Attr("x2", left + plotWidth), Attr("y1", top + plotHeight), Attr("y2", top + plotHeight)));
        svg.Add(new XElement(S + "text", new XAttribute("class", "axis-title"), Attr("x", 14), Attr("y", top + plotHeight / 2.0),
            new XAttribute("transform", $"rotate(-90 14 {N(top + plotHeight / 2.0)})"), new XAttribute("text-anchor", "middle"), yTitle));
        if (referenceOne && max >= 1)
        {
            svg.Add(new XElement(S + "line", new XAttribute("class", "one"), Attr("x1", left), Attr("x2", left + plotWidth), Attr("y1", Y(1)), Attr("y2", Y(1))));
        }

        var groupWidth = plotWidth / (double)Math.Max(1, categories.Count);
        var barWidth = groupWidth * 0.8 / Math.Max(1, series.Count);
        var showValues = categories.Count * series.Count <= 24;
        var rotateLabels = categories.Count > 12;
        for (var c = 0; c < categories.Count; c++)
        {
            var groupLeft = left + c * groupWidth + groupWidth * 0.1;
            var group = new XElement(S + "g", new XAttribute("class", "group"), new XAttribute("data-" + categoryAttribute, categories[c]));
            for (var s = 0; s < series.Count; s++)
            {
                var item = series[s];
                var value = item.Values[c];
                if (value is not { } v || !double.IsFinite(v))
                {
                    continue;
                }

                var x = groupLeft + s * barWidth;
                var y = Y(v);
                var cssClass = item.PerCategoryClass?[c] ?? item.CssClass;
                group.Add(new XElement(S + "rect",
                    new XAttribute("class", $"bar bar-{item.Name} {cssClass}"),
                    new XAttribute("data-" + categoryAttribute, categories[c]),
                    new XAttribute("data-series", item.Name),
                    item.Position is { } position ? new XAttribute("data-position", position) : null,
                    new XAttribute("data-value", R(v)),
                    Attr("x", x), Attr("y", y), Attr("width", Math.Max(1, barWidth - 2)), Attr("height", top + plotHeight - y),
                    new XElement(S + "title", $"{categories[c]} · {item.Label}: {F(v, 4)}")));

                if (item.Intervals?[c] is { } ci && double.IsFinite(ci.Lower) && double.IsFinite(ci.Upper))
                {
                    var cx = x + (barWidth - 2) / 2;
                    group.Add(new XElement(S + "line",
                        new XAttribute("class", $"ci ci-{item.Name}"),
                        new XAttribute("data-" + categoryAttribute, categories[c]),
                        new XAttribute("data-lower", R(ci.Lower)), new XAttribute("data-upper", R(ci.Upper)),
                        Attr("x1", cx), Attr("x2", cx), Attr("y1", Y(ci.Lower)), Attr("y2", Y(ci.Upper))));
                    foreach (var end in new[] { ci.Lower, ci.Upper })
                    {
                        group.Add(new XElement(S + "line", new XAttribute("class", "ci-cap"), new XAttribute("stroke", "#1f2328"),
                            Attr("x1", cx - Math.Min(6, barWidth / 4)), Attr("x2", cx + Math.Min(6, barWidth / 4)), Attr("y1", Y(end)), Attr("y2", Y(end))));
                    }
                }

                if (showValues)
                {
                    group.Add(new XElement(S + "text", new XAttribute("class", "value-label"), new XAttribute("text-anchor", "middle"),
                        Attr("x", x + (barWidth - 2) / 2),
                        // Above the whisker when there is one, so the label does not sit on it.
                        Attr("y", Math.Max(top - 2, Math.Min(y, item.Intervals?[c] is { } whisker && double.IsFinite(whisker.Upper) ? Y(whisker.Upper) : y) - 4)),
                        F(v, 3)));
                }
            }

            foreach (var marker in markers)
            {
                var v = marker.Values[c];
                if (!double.IsFinite(v))
                {
                    continue;
                }

                group.Add(new XElement(S + "line",
                    new XAttribute("class", $"bound marker-{marker.Name}"),
                    new XAttribute("data-" + categoryAttribute, categories[c]),
                    new XAttribute("data-value", R(v)),
                    Attr("x1", groupLeft - 2), Attr("x2", groupLeft + series.Count * barWidth), Attr("y1", Y(v)), Attr("y2", Y(v)),
                    new XElement(S + "title", $"{categories[c]} · {marker.Label}: {F(v, 4)}")));
            }

            var labelX = left + (c + 0.5) * groupWidth;
            var labelY = top + plotHeight + 16;
            group.Add(new XElement(S + "text", new XAttribute("class", "category-label"),
                new XAttribute("text-anchor", rotateLabels ? "end" : "middle"),
                rotateLabels ? new XAttribute("transform", $"rotate(-35 {N(labelX)} {N(labelY)})") : null,
                Attr("x", labelX), Attr("y", labelY), categories[c]));
            svg.Add(group);
        }

        // Legend along the top edge.
        var legendX = (double)left;
        var legend = new XElement(S + "g", new XAttribute("class", "legend"));
        foreach (var item in series.Where(s => s.PerCategoryClass is null))
        {
            legend.Add(new XElement(S + "rect", new XAttribute("class", item.CssClass), Attr("x", legendX), Attr("y", 12), Attr("width", 12), Attr("height", 12)));
            legend.Add(new XElement(S + "text", Attr("x", legendX + 16), Attr("y", 22), item.Label));
            legendX += 28 + item.Label.Length * 6.2;
        }

        foreach (var marker in markers)
        {
            legend.Add(new XElement(S + "line", new XAttribute("class", "legend-bound"), Attr("x1", legendX), Attr("x2", legendX + 14), Attr("y1", 18), Attr("y2", 18)));
            legend.Add(new XElement(S + "text", Attr("x", legendX + 18), Attr("y", 22), marker.Label));
            legendX += 30 + marker.Label.Length * 6.2;
        }

        svg.Add(legend);
        return svg;
    }

    private static XElement Pair(string label, string text, string id, double? value) =>
        new(H + "div", new XAttribute("style", "display: contents"),
            new XElement(H + "dt", label),
            new XElement(H + "dd", new XAttribute("id", id), value is { } v ? new XAttribute("data-value", R(v)) : null, text));

    /// <summary>The measured speed-up; an interval too wide to read is flagged (class, marker and tooltip), not printed as a reading.</summary>
    private static XElement MeasuredCell(TaskReport t)
    {
        var cell = Td(F(t.MeasuredSpeedup, 3) + (t.MeasuredSpeedupTooWide ? " ?" : string.Empty), "measured-speedup", t.MeasuredSpeedup);
        if (t.MeasuredSpeedupTooWide)
        {
            cell.Add(
                new XAttribute("class", "too-wide"),
                new XAttribute("data-too-wide", "true"),
                new XAttribute("title", $"interval too wide to read (±{t.MeasuredSpeedupHalfWidth?.ToString("P0", CultureInfo.InvariantCulture) ?? "?"}): more prompts or repeats, or a quieter machine"));
        }

        return cell;
    }

    private static XElement Td(string text, string? field = null, double? value = null) =>
        new(H + "td",
            field is null ? null : new XAttribute("data-field", field),
            value is { } v ? new XAttribute("data-value", R(v)) : null,
            text);

    private static XAttribute Attr(string name, double value) => new(name, N(value));

    private static string N(double value) => Math.Round(value, 2).ToString("0.##", CultureInfo.InvariantCulture);

    private static string R(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string F(double? value, int digits) => value is { } v && double.IsFinite(v)
        ? v.ToString("F" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)
        : "–";

    private static string Interval(IntervalReport? ci, int digits) => ci is null ? "–" : $"[{F(ci.Lower, digits)}, {F(ci.Upper, digits)}]";

    /// <summary>"value [lower, upper]", or the value alone without an interval.</summary>
    private static string WithInterval(double value, IntervalReport? ci, int digits) =>
        ci is null ? F(value, digits) : $"{F(value, digits)} {Interval(ci, digits)}";

    private static string Change(double before, double after) =>
        before > 0 ? (after / before - 1).ToString("+0.0%;-0.0%;0.0%", CultureInfo.InvariantCulture) : "–";

    private static string Model(Storage.ModelIdentity? model) =>
        model is null ? "(unknown)" : $"{model.Name} ({model.Sha256[..Math.Min(12, model.Sha256.Length)]})";

    private static double NiceCeiling(double value)
    {
        if (!(value > 0))
        {
            return 1;
        }

        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in new[] { 1.0, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 })
        {
            if (step * magnitude >= value)
            {
                return step * magnitude;
            }
        }

        return 10 * magnitude;
    }
}
