using System.Globalization;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Tracing;
using SpecFunctions.Demo;
using SpecFunctions.Onnx;

namespace SpecFunctions.Benchmarks;

/// <summary>
/// Checks the per-task draft length γ* against measurements at every γ = 1 … G under the product's protocol, in one
/// process, with the γs interleaved (each prompt runs at every γ before the next prompt, the order rotating), so that a
/// slow phase of the machine does not fall on one γ. Two predictions, both from the γ = G run alone and α_T on reference
/// prefixes: "refined" (c and the verifier cost profile anchored at γ = G, the model before issue 25) and "steps" (the
/// step-cost profile timed in the decode loop at every γ on each task's first two prompts, the report's model now).
/// </summary>
internal static class DraftLengthBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        var prompts = Arg("--prompts", 20);
        var repeats = Arg("--repeats", 2);
        var maxGamma = Arg("--max-gamma", 4);
        var pair = await DemoModels.EnsureAsync(Path.Combine(".specfn", "models", "demo"));
        using var verifier = OnnxLanguageModel.Load(pair.VerifierDirectory);
        using var drafter = OnnxLanguageModel.Load(pair.DrafterDirectory);
        Console.WriteLine($"Demo pair, γ = 1 … {maxGamma} interleaved per prompt, {prompts} prompts per language, 64 new tokens (end-of-sequence ignored), temperature 1, fastest of {repeats} interleaved repeats; provider {verifier.ExecutionProvider}; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

        DecodingOptions Options(int gamma) => new() { Gamma = gamma, MaxNewTokens = 64, Sampling = new SamplingOptions { Temperature = 1 }, StopTokens = [] };
        new TaskRunner(drafter, verifier, Options(maxGamma)).Run([verifier.Tokenizer.Encode("Warm-up text. ")], new TaskStatisticsBuilder(maxGamma));

        var builders = Enumerable.Range(0, maxGamma + 1).Select(g => DemoCorpus.Tasks.ToDictionary(t => t.Id, _ => new TaskStatisticsBuilder(Math.Max(1, g)))).ToArray();
        foreach (var task in DemoCorpus.Tasks)
        {
            var encoded = task.Prompts.Take(prompts).Select(p => verifier.Tokenizer.Encode(p)).ToList();
            for (var p = 0; p < encoded.Count; p++)
            {
                for (var k = 0; k < maxGamma; k++)
                {
                    var gamma = maxGamma - ((p + k) % maxGamma);
                    // The γ = G run is the "evaluation": its first two prompts also time the step-cost profile.
                    var runner = new TaskRunner(drafter, verifier, Options(gamma)) { Repeats = repeats, StepProfilePrompts = gamma == maxGamma && p < 2 ? 1 : 0 };
                    runner.Run([encoded[p]], new Reindex(builders[gamma][task.Id], p));
                }

                Console.Error.Write($"\r{task.Id}: prompt {p + 1}/{encoded.Count}   ");
            }
        }

        Console.Error.WriteLine();
        var byGamma = Enumerable.Range(1, maxGamma).ToDictionary(g => g, g => SuiteAnalyzer.Analyze([.. DemoCorpus.Tasks.Select(t => (t.Id, builders[g][t.Id].Build()))], g));
        var reference = byGamma[maxGamma];
        string Join(IEnumerable<double> values) => string.Join(", ", values.Select(v => v.ToString("F3", CultureInfo.InvariantCulture)));
        Console.WriteLine($"from the γ = {maxGamma} run: c = {reference.CostRatio:F3}, anchored v_γ (γ = 1 … {maxGamma}) = {Join(reference.VerificationCostProfile!)}; step costs s_γ = {Join(reference.StepCostProfile!)}");
        var header = string.Join(" ", Enumerable.Range(1, maxGamma).Select(g => $"  γ={g} refined/steps/meas "));
        Console.WriteLine($"task  alpha_T {header}  γ* refined/steps/meas");
        var errors = Enumerable.Range(0, maxGamma + 1).Select(_ => (Refined: new List<double>(), Steps: new List<double>())).ToArray();
        var hits = (Refined: 0, Steps: 0);
        foreach (var t in reference.Tasks)
        {
            var refined = DraftLength.Predict(t.Alpha, reference.CostRatio, reference.VerificationCostProfile!);
            var steps = DraftLength.PredictFromStepCosts(t.Alpha, reference.StepCostProfile!);
            var measured = Enumerable.Range(0, maxGamma + 1).Select(g => g == 0 ? 1.0 : byGamma[g].Tasks.Single(x => x.TaskId == t.TaskId).MeasuredSpeedup!.Value).ToArray();
            for (var g = 1; g <= maxGamma; g++)
            {
                errors[g].Refined.Add((refined[g] / measured[g]) - 1);
                errors[g].Steps.Add((steps[g] / measured[g]) - 1);
            }

            var (bestRefined, bestSteps, bestMeasured) = (ArgMax(refined), ArgMax(steps), ArgMax(measured));
            hits = (hits.Refined + (bestRefined == bestMeasured ? 1 : 0), hits.Steps + (bestSteps == bestMeasured ? 1 : 0));
            var cells = string.Join(" ", Enumerable.Range(1, maxGamma).Select(g => $"  {refined[g],5:F2} / {steps[g],5:F2} / {measured[g],5:F2}"));
            Console.WriteLine($"{t.TaskId,-5} {t.Alpha,7:F3} {cells}    {bestRefined,3} / {bestSteps,3} / {bestMeasured,3}");
        }

        Console.WriteLine($"prediction error (predicted / measured − 1), mean [min, max] over languages; best γ matched: refined {hits.Refined}/{reference.Tasks.Count}, steps {hits.Steps}/{reference.Tasks.Count}");
        for (var g = 1; g <= maxGamma; g++)
        {
            static string Stat(List<double> e) => $"{e.Average(),6:+0.0%;-0.0%} [{e.Min():+0.0%;-0.0%}, {e.Max():+0.0%;-0.0%}]";
            Console.WriteLine($"γ = {g}: refined {Stat(errors[g].Refined)}   steps {Stat(errors[g].Steps)}");
        }

        return 0;
    }

    private static int ArgMax(double[] values) => Array.IndexOf(values, values.Max());

    /// <summary>Files a one-prompt run's records under the prompt's index in the task.</summary>
    private sealed class Reindex(TaskStatisticsBuilder inner, int prompt) : ITraceSink
    {
        public void Write(TraceRecord record) => inner.Add(record with { Prompt = prompt });
    }
}
