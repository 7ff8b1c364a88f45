using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Demo;
using SpecFunctions.Onnx;

namespace SpecFunctions.Benchmarks;

/// <summary>
/// Checks the per-task draft length γ* (the report's prediction from one run at γ = G and the verifier cost profile)
/// by measuring every task at every γ = 1 … G under the product's protocol, in one process: predicted vs measured
/// speed-up per task and γ, and the measured speed-up at the predicted γ* (γ* = 0 is plain decoding: 1 by definition).
/// </summary>
internal static class DraftLengthBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
        var prompts = Arg("--prompts", 20);
        var repeats = Arg("--repeats", 3);
        var maxGamma = Arg("--max-gamma", 4);
        var pair = await DemoModels.EnsureAsync(Path.Combine(".specfn", "models", "demo"));
        using var verifier = OnnxLanguageModel.Load(pair.VerifierDirectory);
        using var drafter = OnnxLanguageModel.Load(pair.DrafterDirectory);
        Console.WriteLine($"Demo pair, γ = 1 … {maxGamma}, {prompts} prompts per language, 64 new tokens (end-of-sequence ignored), temperature 1, fastest of {repeats} interleaved repeats; provider {verifier.ExecutionProvider}; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

        DecodingOptions Options(int gamma) => new() { Gamma = gamma, MaxNewTokens = 64, Sampling = new SamplingOptions { Temperature = 1 }, StopTokens = [] };
        new TaskRunner(drafter, verifier, Options(maxGamma)).Run([verifier.Tokenizer.Encode("Warm-up text. ")], new TaskStatisticsBuilder(maxGamma));

        var byGamma = new Dictionary<int, SuiteMetrics>();
        for (var gamma = maxGamma; gamma >= 1; gamma--)
        {
            var tasks = new List<(string, IReadOnlyList<PromptStatistics>)>();
            foreach (var task in DemoCorpus.Tasks)
            {
                var encoded = task.Prompts.Take(prompts).Select(p => verifier.Tokenizer.Encode(p)).ToList();
                var statistics = new TaskStatisticsBuilder(gamma);
                new TaskRunner(drafter, verifier, Options(gamma)) { Repeats = repeats }.Run(encoded, statistics);
                tasks.Add((task.Id, statistics.Build()));
                Console.Error.Write($"\rγ = {gamma}: {task.Id} done   ");
            }

            byGamma[gamma] = SuiteAnalyzer.Analyze(tasks, gamma);
        }

        Console.Error.WriteLine();
        var reference = byGamma[maxGamma];
        Console.WriteLine($"from the γ = {maxGamma} run: c = {reference.CostRatio:F3}, v_γ profile (γ = 1 … {maxGamma}) = {string.Join(", ", reference.VerificationCostProfile!.Select(v => v.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}");
        var header = string.Join(" ", Enumerable.Range(1, maxGamma).Select(g => $"  γ={g} pred/meas  "));
        Console.WriteLine($"task  alpha_T {header} γ* pred  γ* meas  pred@γ*  meas@γ*  meas@γ*/pred@γ*");
        foreach (var t in reference.Tasks)
        {
            var measured = Enumerable.Range(0, maxGamma + 1).Select(g => g == 0 ? 1.0 : byGamma[g].Tasks.Single(x => x.TaskId == t.TaskId).MeasuredSpeedup!.Value).ToArray();
            var cells = string.Join(" ", Enumerable.Range(1, maxGamma).Select(g => $"  {t.PredictedSpeedupByGamma![g],5:F2} / {measured[g],5:F2}  "));
            var best = t.OptimalGamma!.Value;
            var measuredBest = Array.IndexOf(measured, measured.Max());
            Console.WriteLine($"{t.TaskId,-5} {t.Alpha,7:F3} {cells} {best,7} {measuredBest,8} {t.OptimalGammaSpeedup,8:F2} {measured[best],8:F2} {measured[best] / t.OptimalGammaSpeedup!.Value,16:F2}");
        }

        return 0;
    }
}
