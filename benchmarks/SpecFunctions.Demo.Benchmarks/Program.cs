using System.Diagnostics;
using SpecFunctions.Demo;

var corpus = DemoCorpus.Default;
var trained = new List<DemoModelWeights>();
float Env(string name, float d) => float.TryParse(Environment.GetEnvironmentVariable(name), out var x) ? x : d;
var vOpt = DemoModels.VerifierTraining with { Steps = (int)Env("VSTEPS", DemoModels.VerifierTraining.Steps), WeightDecay = Env("VWD", DemoModels.VerifierTraining.WeightDecay), LearningRate = Env("VLR", DemoModels.VerifierTraining.LearningRate), ReportEvery = 1000, ContextDropout = Env("VCD", (float)DemoModels.VerifierTraining.ContextDropout) };
var dOpt = DemoModels.DrafterTraining with { Steps = (int)Env("DSTEPS", DemoModels.DrafterTraining.Steps), WeightDecay = Env("DWD", DemoModels.DrafterTraining.WeightDecay), ReportEvery = 1000, ContextDropout = Env("DCD", 0) };
var dConf = DemoModelConfig.Drafter with { Window = (int)Env("DWIN", DemoModelConfig.Drafter.Window), HiddenSizes = [(int)Env("DH", DemoModelConfig.Drafter.HiddenSizes[0])] };
foreach (var (config, options) in new[] { (DemoModelConfig.Verifier, vOpt), (dConf, dOpt) })
{
    var sw = Stopwatch.StartNew();
    var w = DemoTrainer.Train(config, corpus, options, 1, new Progress(), default);
    trained.Add(w);
    Console.WriteLine($"{config.Name}: {sw.Elapsed.TotalSeconds:F1} s, {w.SizeInBytes / 1e6:F2} MB");
}

var verifier = new DemoModel(trained[0]);
var drafter = new DemoModel(trained[1]);
foreach (var language in corpus.Languages)
{
    var a = DemoEvaluation.Compare(verifier, drafter, language.HeldOutPrompts);
    var hv = HeldOut(verifier, language.HeldOutPrompts);
    var hd = HeldOut(drafter, language.HeldOutPrompts);
    Console.WriteLine($"{language.Id}: heldout CE verifier {hv:F3} drafter {hd:F3}");
    Console.WriteLine($"{language.Id}: alpha {a.MeanAlpha:F3} D {a.MeanCrossEntropy:F3} KL {a.MeanKl:F3} n {a.Prefixes}");
}

static double HeldOut(DemoModel model, IEnumerable<string> prompts)
{
    double total = 0; int n = 0;
    var lp = new double[256];
    foreach (var prompt in prompts)
    {
        var b = System.Text.Encoding.UTF8.GetBytes(prompt + "\n");
        var logits = model.ForwardAll(b);
        for (var t = 0; t + 1 < b.Length; t++)
        {
            var row = logits.AsSpan(t * 256, 256);
            var max = double.NegativeInfinity; foreach (var x in row) max = Math.Max(max, x);
            double s = 0; foreach (var x in row) s += Math.Exp(x - max);
            total -= row[b[t + 1]] - max - Math.Log(s); n++;
        }
    }
    return total / n;
}

sealed class Progress : IProgress<DemoTrainingProgress>
{
    public void Report(DemoTrainingProgress value) => Console.WriteLine($"  {value.Model} {value.Step}/{value.TotalSteps} loss {value.Loss:F3} {value.Elapsed.TotalSeconds:F1}s");
}
