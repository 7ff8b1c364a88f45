using System.Diagnostics;
using System.Globalization;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Demo;

/// <summary>
/// Issue 6: every mitigation strategy on the demo pair with the default demo suite. α_T and D_T come from
/// <see cref="DemoEvaluation.Compare"/> (reference forward pass, temperature 1, every prefix of the held-out prompts);
/// S_T = f_γ(α_T)/(1+γc) with γ = 4 and c = 0.04.
/// Usage: dotnet run -c Release --project benchmarks/SpecFunctions.Demo.Benchmarks -- mitigation [SEED [MGSM_DIR [STEPS LR K [PROMPTS BYTES [RULE [TRAINING_SEED]]]]]]
/// </summary>
internal static class MitigationBenchmark
{
    private const int Gamma = 4;
    private const double CostRatio = 0.04;

    public static async Task RunAsync(string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        var seed = args.Length > 1 ? int.Parse(args[1], inv) : DemoModels.DefaultSeed;
        var mgsm = args.Length > 2 ? args[2] : Path.GetFullPath(Path.Combine("..", "shared", "data", "mgsm"));
        var options = MitigationOptions.Mlp;
        if (args.Length > 5)
        {
            options = options with { Steps = int.Parse(args[3], inv), LearningRate = double.Parse(args[4], inv), ReweightEvery = int.Parse(args[5], inv) };
        }

        if (args.Length > 7)
        {
            options = options with { PromptsPerTask = int.Parse(args[6], inv), Continuation = int.Parse(args[7], inv) };
        }

        var rule = args.Length > 8 ? Enum.Parse<WeightRule>(args[8]) : WeightRule.ShiftByMinimum;
        var trainingSeed = args.Length > 9 ? int.Parse(args[9], inv) : seed;
        var root = Path.Combine(Path.GetTempPath(), "specfn-demo-mitigation-bench");
        var paths = await DemoModels.EnsureAsync(root, seed);
        var verifierWeights = DemoModels.LoadWeights(paths.VerifierDirectory);
        var drafterWeights = DemoModels.LoadWeights(paths.DrafterDirectory);
        var verifier = new DemoModel(verifierWeights);
        var languages = DemoCorpus.Default.Languages;
        var mgsmSets = Directory.Exists(mgsm)
            ? Directory.GetFiles(mgsm, "mgsm_*.tsv").Order().Select(f => (Id: Path.GetFileNameWithoutExtension(f)[5..], Prompts: File.ReadLines(f).Take(30).Select(l => l.Split('\t')[0]).ToArray())).ToArray()
            : [];
        var baseAgreement = languages.Select(l => DemoEvaluation.Compare(verifier, new DemoModel(drafterWeights), l.HeldOutPrompts)).ToArray();
        var tasks = languages.Select((l, i) => new MitigationTask(l.Id, baseAgreement[i].MeanCrossEntropy, DemoCorpus.TrainingPrompts(l.Id), l.HeldOutPrompts)).ToArray();
        var baseMgsm = mgsmSets.Select(m => DemoEvaluation.Compare(verifier, new DemoModel(drafterWeights), m.Prompts).MeanAlpha).ToArray();
        Console.WriteLine($"Cores {Environment.ProcessorCount}; seed {seed}; options {System.Text.Json.JsonSerializer.Serialize(options)}; rule {rule}");
        Console.WriteLine($"| strategy | time (s) | U before | U after | ΔU | mean S_T before | mean S_T after | {string.Join(" | ", languages.Select(l => $"{l.Id} α / D_T"))} |");
        Console.WriteLine($"|---|---|---|---|---|---|---|{string.Concat(languages.Select(_ => "---|"))}");
        var rowsMgsm = new List<string>();
        foreach (var strategy in new[] { MitigationStrategies.None, MitigationStrategies.SCdf, MitigationStrategies.Balanced, MitigationStrategies.Temperature })
        {
            var stopwatch = Stopwatch.StartNew();
            using var mlp = new MlpFineTunableDrafter(verifierWeights, drafterWeights);
            var result = DrafterMitigation.Run(mlp, strategy, rule, tasks, trainingSeed, options, strategy == MitigationStrategies.Temperature ? new ConsoleProgress() : null);
            var seconds = stopwatch.Elapsed.TotalSeconds;
            var drafter = new DemoModel(mlp.Weights);
            var after = languages.Select(l => DemoEvaluation.Compare(verifier, drafter, l.HeldOutPrompts)).ToArray();
            var uBefore = SpecFunctions.Core.Metrics.FairnessMetrics.UnfairnessOf([.. baseAgreement.Select(a => a.MeanCrossEntropy)]);
            var uAfter = SpecFunctions.Core.Metrics.FairnessMetrics.UnfairnessOf([.. after.Select(a => a.MeanCrossEntropy)]);
            var sBefore = baseAgreement.Average(a => Speedup(a.MeanAlpha));
            var sAfter = after.Average(a => Speedup(a.MeanAlpha));
            var cells = languages.Select((_, i) => string.Create(inv, $"{baseAgreement[i].MeanAlpha:F3}→{after[i].MeanAlpha:F3} / {baseAgreement[i].MeanCrossEntropy:F3}→{after[i].MeanCrossEntropy:F3}"));
            Console.WriteLine(string.Create(inv, $"| {strategy} | {seconds:F1} | {uBefore:F4} | {uAfter:F4} | {(uAfter - uBefore) / uBefore:P1} | {sBefore:F3} | {sAfter:F3} | {string.Join(" | ", cells)} |"));
            Console.Error.WriteLine(result.Notes);
            var mg = mgsmSets.Select((m, i) => string.Create(inv, $"{baseMgsm[i]:F3}→{DemoEvaluation.Compare(verifier, drafter, m.Prompts).MeanAlpha:F3}"));
            rowsMgsm.Add($"| {strategy} | {string.Join(" | ", mg)} |");
        }

        Console.WriteLine();
        Console.WriteLine($"MGSM α_T (first 30 questions, every prefix) before→after:");
        Console.WriteLine($"| strategy | {string.Join(" | ", mgsmSets.Select(m => m.Id))} |");
        Console.WriteLine($"|---|{string.Concat(mgsmSets.Select(_ => "---|"))}");
        rowsMgsm.ForEach(Console.WriteLine);

        if (Directory.Exists(mgsm))
        {
            MgsmAsTasks(mgsm, verifierWeights, drafterWeights, rule, trainingSeed, options);
        }
    }

    /// <summary>
    /// MGSM languages as the mitigation's tasks, as `suite import-mgsm` → `run` → `mitigate` does: measured on questions
    /// 1–30 of each language. "contaminated" trains (and re-estimates D_T) on those same 30 questions, which is what a
    /// suite without training prompts got before issue 19; "disjoint" trains on questions 31–70 (what
    /// `--training-per-language 40` writes) and re-estimates D_T on 71–100, so no measured question is ever seen.
    /// </summary>
    private static void MgsmAsTasks(string folder, DemoModelWeights verifierWeights, DemoModelWeights drafterWeights, WeightRule rule, int seed, MitigationOptions options)
    {
        var inv = CultureInfo.InvariantCulture;
        var verifier = new DemoModel(verifierWeights);
        var sets = Directory.GetFiles(folder, "mgsm_*.tsv").Order(StringComparer.Ordinal).Select(f =>
        {
            var questions = File.ReadLines(f).Select(l => l.Split('\t')[0].Trim()).Where(q => q.Length > 0).ToArray();
            return (Id: Path.GetFileNameWithoutExtension(f)[5..], Eval: questions[..30], Train: questions[30..70], Dev: questions[70..100]);
        }).ToArray();
        var before = sets.Select(m => DemoEvaluation.Compare(verifier, new DemoModel(drafterWeights), m.Eval)).ToArray();
        Console.WriteLine();
        Console.WriteLine("MGSM languages as the mitigation's tasks, measured on questions 1–30; cell = α_T before→after / D_T before→after:");
        Console.WriteLine($"| data | strategy | time (s) | overlap | U before | U after | ΔU | mean S_T before | mean S_T after | {string.Join(" | ", sets.Select(m => m.Id))} |");
        Console.WriteLine($"|---|---|---|---|---|---|---|---|---|{string.Concat(sets.Select(_ => "---|"))}");
        foreach (var contaminated in new[] { true, false })
        {
            var tasks = sets.Select((m, i) => contaminated
                ? new MitigationTask(m.Id, before[i].MeanCrossEntropy, m.Eval, m.Eval)
                : new MitigationTask(m.Id, before[i].MeanCrossEntropy, m.Train, m.Dev)).ToArray();
            var overlap = tasks.Select((t, i) => SpecFunctions.Core.Mitigation.MitigationData.Overlap(t.TrainingPrompts, sets[i].Eval)).Sum();
            foreach (var strategy in new[] { MitigationStrategies.SCdf, MitigationStrategies.Balanced })
            {
                var stopwatch = Stopwatch.StartNew();
                using var mlp = new MlpFineTunableDrafter(verifierWeights, drafterWeights);
                DrafterMitigation.Run(mlp, strategy, rule, tasks, seed, options);
                var seconds = stopwatch.Elapsed.TotalSeconds;
                var drafter = new DemoModel(mlp.Weights);
                var after = sets.Select(m => DemoEvaluation.Compare(verifier, drafter, m.Eval)).ToArray();
                var uBefore = SpecFunctions.Core.Metrics.FairnessMetrics.UnfairnessOf([.. before.Select(a => a.MeanCrossEntropy)]);
                var uAfter = SpecFunctions.Core.Metrics.FairnessMetrics.UnfairnessOf([.. after.Select(a => a.MeanCrossEntropy)]);
                var cells = sets.Select((_, i) => string.Create(inv, $"{before[i].MeanAlpha:F3}→{after[i].MeanAlpha:F3} / {before[i].MeanCrossEntropy:F3}→{after[i].MeanCrossEntropy:F3}"));
                Console.WriteLine(string.Create(inv,
                    $"| {(contaminated ? "contaminated (train = eval 1–30)" : "disjoint (train 31–70, D_T re-estimates 71–100)")} | {strategy} | {seconds:F1} | {overlap} | {uBefore:F4} | {uAfter:F4} | {(uAfter - uBefore) / uBefore:P1} | {before.Average(a => Speedup(a.MeanAlpha)):F3} | {after.Average(a => Speedup(a.MeanAlpha)):F3} | {string.Join(" | ", cells)} |"));
            }
        }
    }

    private static double Speedup(double alpha)
    {
        var f = alpha >= 1 ? Gamma + 1 : (1 - Math.Pow(alpha, Gamma + 1)) / (1 - alpha);
        return f / (1 + Gamma * CostRatio);
    }

    private sealed class ConsoleProgress : IProgress<string>
    {
        public void Report(string value) => Console.Error.WriteLine("  " + value);
    }
}
