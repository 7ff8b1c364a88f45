using System.Globalization;
using System.Text;
using SpecFunctions.Core.Estimation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Benchmarks;

/// <summary>
/// The fan-out of a 100-task × 1 000-prompt audit of a 7B pair at 1 … 64 replicas, simulated
/// (<see cref="FanOutSimulation"/>, issue 28): wall time, efficiency and replica-hours for a range of shard sizes, driven by
/// the per-shard overheads measured on the real Functions host (docs/scale.md), per-prompt costs from the issue's T4
/// figures and a stated cold start. Prints a Markdown table and writes an SVG chart (<c>--svg FILE</c>).
/// </summary>
/// <remarks>
/// Usage: <c>-- fanout-sim [--tasks 100] [--prompts 1000] [--overhead 0.5] [--dispatch 0.12] [--completion 0.12]
/// [--cold-start 120] [--scale-in 300] [--svg docs/scale-fanout.svg]</c>.
/// </remarks>
internal static class FanOutBench
{
    private static readonly int[] ReplicaCounts = [1, 2, 4, 8, 16, 32, 50, 64];
    private static readonly int[] ShardSizes = [1000, 250, 100, 50, 20, 5];

    public static int Run(string[] args)
    {
        double Arg(string name, double fallback) => Array.IndexOf(args, name) is var i and >= 0 ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        var tasks = (int)Arg("--tasks", 100);
        var promptsPerTask = (int)Arg("--prompts", 1000);
        var setup = new FanOutSetup
        {
            Replicas = 1,
            ShardOverheadSeconds = Arg("--overhead", 0.5),
            DispatchSecondsPerShard = Arg("--dispatch", 0.12),
            CompletionSecondsPerShard = Arg("--completion", 0.12),
            ColdStartSeconds = Arg("--cold-start", 120),
            ScaleInDelaySeconds = Arg("--scale-in", 300),
        };
        var svg = Array.IndexOf(args, "--svg") is var s and >= 0 ? args[s + 1] : null;

        // Per-prompt cost: 256 new tokens on a 7B pair on a T4 take 8.4–13.2 s per arm (issue 28: 250 prompts in 35–55 min);
        // a prompt runs both arms twice (2 timed repeats): 4 generations. Each task (language) draws its arm cost once from
        // that range (how well the drafter fits it); each prompt varies around it (log-normal, σ = 0.25). Seed 1.
        var random = new Random(1);
        var prompts = new double[tasks][];
        for (var t = 0; t < tasks; t++)
        {
            var perArm = 8.4 + (random.NextDouble() * (13.2 - 8.4));
            prompts[t] = new double[promptsPerTask];
            for (var p = 0; p < promptsPerTask; p++)
            {
                var gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                prompts[t][p] = 4 * perArm * Math.Exp((0.25 * gaussian) - (0.25 * 0.25 / 2));
            }
        }

        var work = prompts.Sum(t => t.Sum());
        Console.WriteLine($"{tasks} tasks × {promptsPerTask} prompts, {work / 3600:N0} GPU-hours of prompt work (mean {work / tasks / promptsPerTask:F1} s per prompt: " +
            $"both arms × 2 repeats × 256 tokens, 7B pair, T4); per shard {setup.ShardOverheadSeconds} s on the replica, {setup.DispatchSecondsPerShard} s dispatch and " +
            $"{setup.CompletionSecondsPerShard} s completion on the orchestration plane (serial); cold start {setup.ColdStartSeconds} s; scale-in after {setup.ScaleInDelaySeconds} s idle.");
        Console.WriteLine();

        var results = new Dictionary<(int Shard, int Replicas), FanOutOutcome>();
        foreach (var size in ShardSizes)
        {
            // The product's split (ShardRange.Split: sizes as even as possible), each shard's work the sum of its prompts'.
            var shards = prompts.SelectMany(task => ShardRange.Split(task.Length, size).Select(r => task.AsSpan(r.FirstPrompt, r.Prompts).ToArray().Sum())).ToArray();
            foreach (var replicas in ReplicaCounts)
            {
                results[(size, replicas)] = FanOutSimulation.Run(shards, setup with { Replicas = replicas });
            }
        }

        Console.WriteLine("Efficiency (ideal / actual wall time) by prompts per shard and replicas:");
        Console.WriteLine();
        Console.WriteLine("| prompts per shard | shards | " + string.Join(" | ", ReplicaCounts.Select(r => $"{r}")) + " |");
        Console.WriteLine("|---:|---:|" + string.Concat(Enumerable.Repeat("---:|", ReplicaCounts.Length)));
        foreach (var size in ShardSizes)
        {
            Console.WriteLine($"| {size} | {results[(size, 1)].Shards:N0} | " + string.Join(" | ", ReplicaCounts.Select(r => $"{100 * results[(size, r)].Efficiency:F1} %")) + " |");
        }

        Console.WriteLine();
        Console.WriteLine("Wall time (hours) and billed replica-hours:");
        Console.WriteLine();
        Console.WriteLine("| prompts per shard | " + string.Join(" | ", ReplicaCounts.Select(r => $"{r}")) + " |");
        Console.WriteLine("|---:|" + string.Concat(Enumerable.Repeat("---:|", ReplicaCounts.Length)));
        foreach (var size in ShardSizes)
        {
            Console.WriteLine($"| {size} | " + string.Join(" | ", ReplicaCounts.Select(r => $"{results[(size, r)].WallSeconds / 3600:F1} h / {results[(size, r)].BilledReplicaSeconds / 3600:N0}")) + " |");
        }

        if (svg is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(svg))!);
            File.WriteAllText(svg, Chart(results));
            Console.WriteLine();
            Console.WriteLine($"Chart: {svg}");
        }

        return 0;
    }

    // Efficiency against replicas, one line per shard size; a plain SVG like the reports' charts (no script, no fonts to load).
    private static string Chart(Dictionary<(int Shard, int Replicas), FanOutOutcome> results)
    {
        const int width = 640, height = 360, left = 56, right = 150, top = 30, bottom = 46;
        string[] colours = ["#b2182b", "#ef8a62", "#999999", "#67a9cf", "#2166ac", "#1b7837"];
        double X(int replicas) => left + ((width - left - right) * Math.Log2(replicas) / Math.Log2(ReplicaCounts[^1]));
        double Y(double efficiency) => top + ((height - top - bottom) * (1 - efficiency) / 0.5); // 50 … 100 %
        string F(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\" aria-label=\"Simulated fan-out efficiency by replicas and shard size\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"18\" font-weight=\"bold\">100 tasks × 1 000 prompts, 7B pair on T4: efficiency (ideal / actual)</text>\n");
        foreach (var level in new[] { 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 })
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{F(Y(level))}\" y2=\"{F(Y(level))}\" stroke=\"{(level == 0.8 ? "#444" : "#ddd")}\"{(level == 0.8 ? " stroke-dasharray=\"4 3\"" : "")}/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{F(Y(level) + 4)}\" text-anchor=\"end\">{level * 100:F0} %</text>\n");
        }

        foreach (var replicas in ReplicaCounts)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(X(replicas))}\" y=\"{height - bottom + 16}\" text-anchor=\"middle\">{replicas}</text>\n");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{(left + width - right) / 2}\" y=\"{height - 8}\" text-anchor=\"middle\">evaluator replicas (log scale)</text>\n");
        for (var i = 0; i < ShardSizes.Length; i++)
        {
            var size = ShardSizes[i];
            var points = string.Join(" ", ReplicaCounts.Select(r => $"{F(X(r))},{F(Y(Math.Max(0.5, results[(size, r)].Efficiency)))}"));
            svg.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{colours[i]}\" stroke-width=\"2\" points=\"{points}\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width - right + 10}\" y=\"{top + 14 + (i * 18)}\" fill=\"{colours[i]}\">{(size == 1000 ? "1 000 (one per task)" : $"{size} per shard")}</text>\n");
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }
}
