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

        // Throughput.
        lines.Add("Tokens/s (fastest repeat per prompt, summed over the language's prompts) and throughput ratios:");
        lines.Add(string.Empty);
        lines.Add("| language | tokens | " + string.Join(" | ", new[] { "a", "b", "c", "d", "e" }.Select(k => $"({k})")) + " | (d)/(b) | (e)/(b) | (b)/(a) | (d)/(c) |");
        lines.Add("|---|---:|" + string.Concat(Enumerable.Repeat("---:|", 9)));
        foreach (var (name, set) in Rows(languages))
        {
            lines.Add($"| {name} | {set.Sum(l => l.Tokens)} | " +
                string.Join(" | ", new[] { "a", "b", "c", "d", "e" }.Select(k => F0(set.Sum(l => l.Tokens) / (set.Sum(l => l.Arms[k].Ms) / 1000)))) +
                $" | {F2(Ratio(set, "d", "b"))} | {F2(Ratio(set, "e", "b"))} | {F2(Ratio(set, "b", "a"))} | {F2(Ratio(set, "d", "c"))} |");
        }

        var db = RatioInterval(languages, "d", "b");
        var eb = RatioInterval(languages, "e", "b");
        lines.Add(string.Empty);
        lines.Add($"**(d)/(b) = {F2(Ratio(languages, "d", "b"))}** (95 % bootstrap interval over prompts [{F2(db.Lower)}, {F2(db.Upper)}]); " +
            $"(e)/(b) = {F2(Ratio(languages, "e", "b"))} [{F2(eb.Lower)}, {F2(eb.Upper)}].");
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
        lines.Add("| language | rounds (b) / (d) | accepted length (b) / (d) | accepted/evaluated (b) / (d) | accepted/proposed (b) / (d) | exact α(s), mean over reference prefixes (d) |");
        lines.Add("|---|---:|---:|---:|---:|---:|");
        foreach (var (name, set) in Rows(languages))
        {
            var b = Sum(set, "b");
            var d = Sum(set, "d");
            var alpha = set.Sum(l => l.ExactAlpha * l.Tokens) / Math.Max(1, set.Sum(l => l.Tokens));
            lines.Add($"| {name} | {b.Rounds} / {d.Rounds} | {F2((double)b.Emitted / b.Rounds)} / {F2((double)d.Emitted / d.Rounds)} | " +
                $"{F3((double)b.Accepted / b.Evaluated)} / {F3((double)d.Accepted / d.Evaluated)} | {F3((double)b.Accepted / b.Proposed)} / {F3((double)d.Accepted / d.Proposed)} | {F3(alpha)} |");
        }

        // Where the time goes.
        lines.Add(string.Empty);
        lines.Add("Where the time goes, all languages, kept repeats (each runtime's own timers: GenAI's total_draft_ms and total_target_ms, our step records' model-call times):");
        lines.Add(string.Empty);
        lines.Add("| arm | wall ms (kept) | drafter ms | verifier ms | rest: sampling, bookkeeping, statistics, traces, runtime loop |");
        lines.Add("|---|---:|---:|---:|---:|");
        foreach (var key in new[] { "b", "d", "e" })
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

        var ratio = new BarChart { Width = 80, Label = "(d)/(b): ours as evaluations time it / GenAI speculative", LabelAlignment = Justify.Center };
        foreach (var language in languages)
        {
            var r = Ratio([language], "d", "b");
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
