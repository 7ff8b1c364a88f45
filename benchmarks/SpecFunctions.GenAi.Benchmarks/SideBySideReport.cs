using System.Globalization;
using SpecFunctions.Core.Metrics;
using Spectre.Console;

namespace SpecFunctions.GenAi.Benchmarks;

/// <summary>The side-by-side run as Markdown (console and docs/benchmarks.md): throughput, counters, where the time goes.</summary>
internal static class SideBySideReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private static readonly Dictionary<string, string> ShortLabels = new()
    {
        ["a"] = "GenAI, target only",
        ["b"] = "GenAI, speculative",
        ["c"] = "ours, autoregressive",
        ["d"] = "ours, spec., evaluation timing",
        ["e"] = "ours, spec., bare",
        ["f"] = "GenAI, adaptive K",
        ["g"] = "ours at γ*",
    };

    /// <summary>Throughput ratio numerator/denominator of two arms over a set of languages: same tokens, so the inverse time ratio.</summary>
    public static double Ratio(IEnumerable<LanguageResult> languages, string numerator, string denominator)
    {
        var list = languages.ToList();
        return list.Sum(l => l.Arms[denominator].Ms) / list.Sum(l => l.Arms[numerator].Ms);
    }

    /// <summary>
    /// 95 % percentile-bootstrap interval of <see cref="Ratio"/> over prompts (paired: a resampled prompt brings both arms'
    /// times), seed 1, 2,000 resamples.
    /// </summary>
    public static ConfidenceInterval RatioInterval(IReadOnlyList<LanguageResult> languages, string numerator, string denominator)
    {
        var top = languages.SelectMany(l => l.Arms[numerator].PromptMs).ToArray();
        var bottom = languages.SelectMany(l => l.Arms[denominator].PromptMs).ToArray();
        return Bootstrap.Percentile(top.Length, counts =>
        {
            double n = 0, d = 0;
            for (var i = 0; i < counts.Length; i++)
            {
                n += counts[i] * bottom[i];
                d += counts[i] * top[i];
            }

            return n / d;
        }, resamples: 2000);
    }

    public static IReadOnlyList<string> Render(SideBySideResult result, string environment)
    {
        var s = result.Settings;
        var languages = result.Languages;
        var keys = result.Arms.Select(a => a.Key).ToList();
        var lines = new List<string>
        {
            $"## ONNX Runtime GenAI side by side: {result.Pair}",
            string.Empty,
            $"{languages.Sum(l => l.Prompts)} prompts ({s.Prompts} per language), {(s.IgnoreEos ? $"exactly {s.MaxNewTokens} new tokens each (end-of-sequence ignored)" : $"at most {s.MaxNewTokens} new tokens each (end-of-sequence stops every arm)")}, greedy, " +
            $"γ = K = {s.Gamma}, {s.Repeats} repeats per prompt and arm (fastest kept, arm order rotated), {s.EffectiveThreads} intra-op thread(s) per session in both runtimes; {environment}; {result.Elapsed.TotalSeconds:F0} s in all.",
            string.Empty,
        };
        lines.AddRange(result.Arms.Select(a => $"- ({a.Key}) {a.Label}"));
        lines.Add(string.Empty);
        lines.Add(result.Disagreements.Count == 0
            ? $"**Agreement: every arm emitted the verifier's greedy tokens on every prompt ({result.Comparisons} generations compared with (c)).**"
            : $"**Agreement FAILED: {result.Disagreements.Count} of {result.Comparisons} generations differ from (c).** First: {result.Disagreements[0]}");
        lines.Add(string.Empty);

        if (result.GenAiSpeculativeRefusal is { } refusal)
        {
            lines.Add($"**ONNX Runtime GenAI's speculative decoding fails on this pair** (arms (b) and (f) left out; its error: `{refusal}`). " +
                "Our speculative arms are compared with the autoregressive arms of both runtimes instead.");
            lines.Add(string.Empty);
        }

        // Throughput: the arms this run has, and the ratios among them.
        var throughputKeys = new[] { "a", "b", "c", "d", "e" }.Where(keys.Contains).ToList();
        // (c)/(a), the two runtimes' plain decoding, stands in for (b)/(a) when GenAI's speculative arm is missing.
        var ratios = (keys.Contains("b") ? new[] { ("d", "b"), ("e", "b"), ("b", "a"), ("d", "c") } : [("d", "c"), ("e", "c"), ("c", "a")])
            .Where(r => keys.Contains(r.Item1) && keys.Contains(r.Item2))
            .ToList();
        lines.Add("Tokens/s (fastest repeat per prompt, summed over the language's prompts) and throughput ratios:");
        lines.Add(string.Empty);
        lines.Add("| language | tokens | " + string.Join(" | ", throughputKeys.Select(k => $"({k})")) + " | " + string.Join(" | ", ratios.Select(r => $"({r.Item1})/({r.Item2})")) + " |");
        lines.Add("|---|---:|" + string.Concat(Enumerable.Repeat("---:|", throughputKeys.Count + ratios.Count)));
        foreach (var (name, set) in Rows(languages))
        {
            lines.Add($"| {name} | {set.Sum(l => l.Tokens)} | " +
                string.Join(" | ", throughputKeys.Select(k => F0(set.Sum(l => l.Tokens) / (set.Sum(l => l.Arms[k].Ms) / 1000)))) +
                " | " + string.Join(" | ", ratios.Select(r => F2(Ratio(set, r.Item1, r.Item2)))) + " |");
        }

        // The headline: ours against GenAI's speculative decoding, or, where GenAI cannot run it, against the autoregressive arm.
        var baseline = keys.Contains("b") ? "b" : "c";
        var db = RatioInterval(languages, "d", baseline);
        var eb = RatioInterval(languages, "e", baseline);
        lines.Add(string.Empty);
        lines.Add($"**(d)/({baseline}) = {F2(Ratio(languages, "d", baseline))}** (95 % bootstrap interval over prompts [{F2(db.Lower)}, {F2(db.Upper)}]); " +
            $"(e)/({baseline}) = {F2(Ratio(languages, "e", baseline))} [{F2(eb.Lower)}, {F2(eb.Upper)}].");
        var timedD = languages.Sum(l => l.Arms["d"].Ms);
        var untimedD = languages.Sum(l => l.Arms["d"].UntimedMs?.Sum() ?? 0);
        var promptsD = languages.Sum(l => l.Prompts);
        lines.Add(string.Empty);
        lines.Add($"Untimed work of (d), outside the product's timer (the reference pass over the verifier's continuation, method.md §3, " +
            $"and the trace records): {F2(untimedD / Math.Max(1, promptsD))} ms per prompt, {F2(100 * untimedD / timedD)} % of its timed generation.");
        lines.Add(string.Empty);

        // Counters, each runtime's own.
        lines.Add("Each runtime's own counters (kept repeats; accepted length = tokens emitted per round, bonus or correction token included; " +
            "evaluated = drafts examined up to and including the first rejection):");
        lines.Add(string.Empty);
        var counted = new[] { "b", "d" }.Where(keys.Contains).ToList();
        string Pairs(Func<SpecCounters, string> cell, IReadOnlyList<LanguageResult> set) => string.Join(" / ", counted.Select(k => cell(Sum(set, k))));
        var heading = string.Join(" / ", counted.Select(k => $"({k})"));
        lines.Add($"| language | rounds {heading} | accepted length {heading} | accepted/evaluated {heading} | accepted/proposed {heading} | exact α(s), mean over reference prefixes (d) |");
        lines.Add("|---|---:|---:|---:|---:|---:|");
        foreach (var (name, set) in Rows(languages))
        {
            var alpha = set.Sum(l => l.ExactAlpha * l.Tokens) / Math.Max(1, set.Sum(l => l.Tokens));
            lines.Add($"| {name} | {Pairs(c => c.Rounds.ToString(Invariant), set)} | {Pairs(c => F2((double)c.Emitted / c.Rounds), set)} | " +
                $"{Pairs(c => F3((double)c.Accepted / c.Evaluated), set)} | {Pairs(c => F3((double)c.Accepted / c.Proposed), set)} | {F3(alpha)} |");
        }

        // Where the time goes.
        lines.Add(string.Empty);
        lines.Add("Where the time goes, all languages, kept repeats (each runtime's own timers: GenAI's total_draft_ms and total_target_ms, our step records' model-call times):");
        lines.Add(string.Empty);
        lines.Add("| arm | wall ms (kept) | drafter ms | verifier ms | rest: sampling, bookkeeping, statistics, traces, runtime loop |");
        lines.Add("|---|---:|---:|---:|---:|");
        foreach (var key in new[] { "b", "d", "e" }.Where(keys.Contains))
        {
            var c = Sum(languages, key);
            var wall = languages.Sum(l => l.Arms[key].Ms);
            lines.Add($"| ({key}) | {F0(wall)} | {F0(c.DraftMs)} | {F0(c.TargetMs)} | {F0(wall - c.DraftMs - c.TargetMs)} ({F0(100 * (wall - c.DraftMs - c.TargetMs) / wall)} %) |");
        }

        if (keys.Contains("f"))
        {
            lines.Add(string.Empty);
            lines.Add($"Adaptive width: GenAI's adaptive K (start and floor {s.AdaptiveMinK}) beside ours at the report's γ* per language:");
            lines.Add(string.Empty);
            lines.Add("| language | γ* (ours) | (g) tokens/s | (f) tokens/s | (g)/(f) | (f) effective K at the end, mean over prompts | (f) accepted/evaluated | (g)/(c) | (f)/(a) |");
            lines.Add("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (name, set) in Rows(languages))
            {
                var f = Sum(set, "f");
                lines.Add($"| {name} | {(set.Count == 1 ? set[0].OptimalGamma?.ToString(Invariant) : "")} | {F0(set.Sum(l => l.Tokens) / (set.Sum(l => l.Arms["g"].Ms) / 1000))} | " +
                    $"{F0(set.Sum(l => l.Tokens) / (set.Sum(l => l.Arms["f"].Ms) / 1000))} | {F2(Ratio(set, "g", "f"))} | {F2((f.EffectiveK ?? 0) / set.Sum(l => l.Prompts))} | " +
                    $"{F3((double)f.Accepted / f.Evaluated)} | {F2(Ratio(set, "g", "c"))} | {F2(Ratio(set, "f", "a"))} |");
            }
        }

        if (result.Disagreements.Count > 0)
        {
            lines.Add(string.Empty);
            lines.Add("Disagreements:");
            lines.AddRange(result.Disagreements.Take(20).Select(d => "- " + d));
        }

        return lines;
    }

    /// <summary>Two console bar charts: tokens/s of every arm over all languages, and (d)/(b) per language.</summary>
    public static void WriteCharts(SideBySideResult result, IAnsiConsole console)
    {
        var languages = result.Languages;
        var tokens = languages.Sum(l => l.Tokens);
        var throughput = new BarChart { Width = 80, Label = "tokens/s, all languages", LabelAlignment = Justify.Center };
        foreach (var (key, _) in result.Arms)
        {
            throughput.AddItem($"({key}) {ShortLabels[key]}", Math.Round(tokens / (languages.Sum(l => l.Arms[key].Ms) / 1000)),
                key is "a" or "b" or "f" ? Color.SteelBlue : Color.DarkOrange);
        }

        var baseline = result.Arms.Any(a => a.Key == "b") ? "b" : "c";
        var ratio = new BarChart
        {
            Width = 80,
            Label = baseline == "b" ? "(d)/(b): ours as evaluations time it / GenAI speculative" : "(d)/(c): ours as evaluations time it / ours autoregressive (GenAI speculative failed)",
            LabelAlignment = Justify.Center,
        };
        foreach (var language in languages)
        {
            var r = Ratio([language], "d", baseline);
            ratio.AddItem(language.Id, Math.Round(r, 2), r >= 1 ? Color.Green : Color.Yellow);
        }

        console.Write(new Text(System.Environment.NewLine));
        console.Write(throughput);
        console.Write(new Text(System.Environment.NewLine));
        console.Write(ratio);
    }

    private static IEnumerable<(string Name, IReadOnlyList<LanguageResult> Set)> Rows(IReadOnlyList<LanguageResult> languages)
    {
        foreach (var l in languages)
        {
            yield return (l.Id, [l]);
        }

        if (languages.Count > 1)
        {
            yield return ("**all**", languages);
        }
    }

    private static SpecCounters Sum(IEnumerable<LanguageResult> set, string key) =>
        set.Aggregate(SpecCounters.Zero, (sum, l) => l.Arms[key].Counters is { } c ? sum.Add(c) : sum);

    private static string F0(double x) => x.ToString("F0", Invariant);

    private static string F2(double x) => x.ToString("F2", Invariant);

    private static string F3(double x) => x.ToString("F3", Invariant);
}
