using System.Diagnostics;
using SpecFunctions.Core.Models;
using SpecFunctions.Demo;
using SpecFunctions.Onnx;

namespace SpecFunctions.Benchmarks;

/// <summary>
/// Per-call cost of the demo models alone, as the decoder calls them (append then rewind at a fixed context): median over
/// trials of the mean µs per call, drafter 1 row and verifier 1 and γ+1 = 5 rows. Isolates the ONNX call from the engine.
/// </summary>
internal static class DemoCallsBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var calls = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 2000;
        var pair = await DemoModels.EnsureAsync(Path.Combine(".specfn", "models", "demo"));
        var threads = int.TryParse(Environment.GetEnvironmentVariable("SPECFN_BENCH_THREADS"), out var n) ? n : 0;
        using var verifier = OnnxLanguageModel.Load(pair.VerifierDirectory, new OnnxModelOptions { IntraOpThreads = threads });
        using var drafter = OnnxLanguageModel.Load(pair.DrafterDirectory, new OnnxModelOptions { IntraOpThreads = threads == 0 ? 0 : 1 });
        var prompt = verifier.Tokenizer.Encode(DemoCorpus.Tasks[0].Prompts[0]);
        Console.WriteLine($"Demo calls, {calls} calls per trial, 7 trials, median; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine($"drafter 1 row: {Measure(drafter, prompt, 1, calls):F1} µs; verifier 1 row: {Measure(verifier, prompt, 1, calls / 4):F1} µs; verifier 5 rows: {Measure(verifier, prompt, 5, calls / 4):F1} µs");
        return 0;
    }

    private static double Measure(ILanguageModel model, int[] prompt, int rows, int calls)
    {
        using var sequence = model.CreateSequence();
        var context = prompt.Length - rows;
        sequence.Append(prompt.AsSpan(0, context), []);
        var logits = new float[rows * model.VocabularySize];
        var block = prompt.AsSpan(context, rows).ToArray();
        var trials = new double[7];
        for (var warm = 0; warm < 200; warm++)
        {
            sequence.Append(block, logits);
            sequence.Truncate(context);
        }

        for (var t = 0; t < trials.Length; t++)
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < calls; i++)
            {
                sequence.Append(block, logits);
                sequence.Truncate(context);
            }

            trials[t] = watch.Elapsed.TotalMicroseconds / calls;
        }

        Array.Sort(trials);
        return trials[trials.Length / 2];
    }
}
