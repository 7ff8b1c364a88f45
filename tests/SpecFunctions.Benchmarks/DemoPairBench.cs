using System.Diagnostics;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Demo;
using SpecFunctions.Onnx;

namespace SpecFunctions.Benchmarks;

/// <summary>
/// The demo pair through the real engine and ONNX Runtime, all numbers from one run: measured c and v_γ, engine
/// overhead as a fraction of model time, allocations per decode step, and per task the measured speed-up against the
/// refined prediction f_γ(α_T)/(γc+v_γ).
/// </summary>
internal static class DemoPairBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        // Positional: PROMPTS per language (default all 20), TEMPERATURE (default 1, the CLI's; 0 = greedy).
        // --stop ends a generation at the end-of-sequence byte; by default every prompt generates exactly 64 tokens in both
        // runs (a fixed budget, like serving benchmarks' ignore-eos): the held-out prompts are whole sentences, and at T = 1
        // about half the generations would otherwise end at their first newline after 1–4 tokens, so a task's speed-up
        // would mostly measure how many of its prompts stopped early, in either run. --per-prompt prints each prompt's times; --gamma G sets the draft length (default 4).
        // --repeats R (default 3): the product's measurement protocol (TaskRunner.Repeats): each prompt's speculative run
        // and baseline, interleaved, R times; each keeps its fastest (timeit's minimum: on a shared machine a preemption in
        // one run otherwise dominates a task's ratio).
        var positional = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || args[i - 1] is not ("--gamma" or "--repeats" or "--device"))).ToArray();
        var prompts = positional.Length > 0 ? int.Parse(positional[0], System.Globalization.CultureInfo.InvariantCulture) : 20;
        var temperature = positional.Length > 1 ? double.Parse(positional[1], System.Globalization.CultureInfo.InvariantCulture) : 1.0;
        var stopAtEos = args.Contains("--stop");
        var perPrompt = args.Contains("--per-prompt");
        var repeatsArg = Array.IndexOf(args, "--repeats");
        var repeats = repeatsArg >= 0 ? int.Parse(args[repeatsArg + 1], System.Globalization.CultureInfo.InvariantCulture) : 3;
        var pair = await DemoModels.EnsureAsync(Path.Combine(".specfn", "models", "demo"));
        var threads = int.TryParse(Environment.GetEnvironmentVariable("SPECFN_BENCH_THREADS"), out var n) ? n : 0;
        // --device cuda runs both models on the GPU (a build with -p:SpecfnGpu=true; required, no silent fallback).
        var deviceArg = Array.IndexOf(args, "--device");
        var device = deviceArg >= 0 && args[deviceArg + 1] == "cuda" ? OnnxDevice.Cuda : OnnxDevice.Cpu;
        var deviceOptions = new OnnxModelOptions { Device = device, RequireDevice = device == OnnxDevice.Cuda };
        using var verifier = OnnxLanguageModel.Load(pair.VerifierDirectory, deviceOptions with { IntraOpThreads = threads });
        using var drafter = OnnxLanguageModel.Load(pair.DrafterDirectory, deviceOptions with { IntraOpThreads = threads == 0 ? 0 : 1 });
        var gammaArg = Array.IndexOf(args, "--gamma");
        var gamma = gammaArg >= 0 ? int.Parse(args[gammaArg + 1], System.Globalization.CultureInfo.InvariantCulture) : 4;
        var options = new DecodingOptions { Gamma = gamma, MaxNewTokens = 64, Sampling = new SamplingOptions { Temperature = temperature }, StopTokens = stopAtEos ? verifier.Manifest.EosTokenIds : [] };
        Console.WriteLine($"Demo pair, γ = {gamma}, fastest of {repeats} repeats per prompt, temperature {temperature} (0 = greedy), {prompts} prompts per language, 64 new tokens ({(stopAtEos ? "or up to the end-of-sequence byte" : "fixed budget, end-of-sequence byte ignored")}); provider {verifier.ExecutionProvider}; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

        // Warm up both sessions and the JIT.
        new TaskRunner(drafter, verifier, options).Run([verifier.Tokenizer.Encode("Warm-up text. ")], new TaskStatisticsBuilder(gamma));

        var tasks = new List<(string, IReadOnlyList<PromptStatistics>)>();
        foreach (var task in DemoCorpus.Tasks)
        {
            var encoded = task.Prompts.Take(prompts).Select(p => verifier.Tokenizer.Encode(p)).ToList();
            // The product's measurement protocol: R interleaved repeats per prompt, each arm keeps its fastest.
            var statistics = new TaskStatisticsBuilder(gamma);
            new TaskRunner(drafter, verifier, options) { Repeats = repeats }.Run(encoded, statistics, new Progress<int>(i => Console.Error.Write($"\r{task.Id}: prompt {i}/{encoded.Count}   ")));
            tasks.Add((task.Id, statistics.Build()));
            if (perPrompt)
            {
                foreach (var p in tasks[^1].Item2)
                {
                    Console.WriteLine($"  {task.Id} #{p.Prompt}: steps {p.Steps} gen {p.GeneratedTokens} spec {p.SpeculativeMs:F2} ms (d {p.DrafterMs:F2} v {p.VerifierMs:F2}) base {p.BaselineMs:F2} ms / {p.BaselineTokens} tok (step {p.BaselineStepMs:F3}) a {p.Accepted}/{p.Drafted}");
                }
            }
        }

        Console.Error.WriteLine();
        var suite = SuiteAnalyzer.Analyze(tasks, gamma);
        var all = tasks.SelectMany(t => t.Item2).ToList();
        var modelMs = all.Sum(p => p.DrafterMs + p.VerifierMs);
        var speculativeMs = all.Sum(p => p.SpeculativeMs);
        var single = all.Sum(p => p.BaselineStepMs!.Value * p.BaselineTokens!.Value) / all.Sum(p => p.BaselineTokens!.Value);
        Console.WriteLine($"per call: drafter {1000 * all.Sum(p => p.DrafterMs) / all.Sum(p => p.DrafterCalls):F1} µs, verifier 1 position {1000 * single:F1} µs, verifier γ+1 positions {1000 * all.Sum(p => p.VerifierMs) / all.Sum(p => p.Steps):F1} µs");
        Console.WriteLine($"measured c = {suite.CostRatio:F4}, v_γ = {suite.VerificationCostRatio:F3}");
        Console.WriteLine($"engine overhead = (speculative wall − model time) / model time = {(speculativeMs - modelMs) / modelMs:P2} ({speculativeMs:F0} ms wall, {modelMs:F0} ms in models)");
        Console.WriteLine($"U = {suite.Fairness.Unfairness:F4} nats², worst task {suite.Fairness.WorstTask}");
        Console.WriteLine("task  alpha_T  D_T    tok/step  S_T    refined  measured [95% CI]      measured/refined");
        foreach (var t in suite.Tasks)
        {
            Console.WriteLine($"{t.TaskId,-5} {t.Alpha,7:F3}  {t.CrossEntropy,5:F3}  {t.MeanAcceptedLength,8:F2}  {t.AnalyticalSpeedup,5:F2}  {t.RefinedSpeedup,7:F2}  {t.MeasuredSpeedup,8:F2} [{t.MeasuredSpeedupCi?.Lower:F2}, {t.MeasuredSpeedupCi?.Upper:F2}]  {t.MeasuredSpeedup / t.RefinedSpeedup,10:F2}");
        }

        // Allocations per decode step: one long greedy generation, with and without a trace sink.
        var prompt = verifier.Tokenizer.Encode(DemoCorpus.Tasks[0].Prompts[0]);
        var longOptions = options with { MaxNewTokens = 512, StopTokens = [] };
        foreach (var withSink in new[] { false, true })
        {
            var decoder = new SpeculativeDecoder(drafter, verifier, longOptions);
            decoder.Generate(prompt, withSink ? new TaskStatisticsBuilder(gamma) : null);
            var before = GC.GetAllocatedBytesForCurrentThread();
            var result = decoder.Generate(prompt, withSink ? new TaskStatisticsBuilder(gamma) : null);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Console.WriteLine($"allocations per speculative step ({(withSink ? "with" : "without")} trace records): {allocated / (double)result.Steps:F0} B over {result.Steps} steps (managed, this thread; ONNX Runtime's native buffers excluded)");
        }

        return 0;
    }
}
