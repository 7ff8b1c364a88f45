using System.Diagnostics;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SpecFunctions.Demo;

// Measures the demo pair: training wall time, sizes, per-language agreement, ONNX Runtime call times.
// Usage: dotnet run -c Release --project benchmarks/SpecFunctions.Demo.Benchmarks [-- SEED [MGSM_DIR]]
if (args.Length > 0 && args[0] == "mitigation")
{
    await MitigationBenchmark.RunAsync(args);
    return;
}

var seed = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : DemoModels.DefaultSeed;
var mgsm = args.Length > 1 ? args[1] : Path.GetFullPath(Path.Combine("..", "shared", "data", "mgsm"));
var corpus = DemoCorpus.Default;
Console.WriteLine($"Cores: {Environment.ProcessorCount}; corpus {corpus.Languages.Sum(l => l.TrainingBytes)} training bytes in {corpus.Languages.Count} languages");

var process = Process.GetCurrentProcess();
var cpuStart = process.TotalProcessorTime;
var stopwatch = Stopwatch.StartNew();
var verifierWeights = DemoTrainer.Train(DemoModelConfig.Verifier, corpus, DemoModels.VerifierTraining, seed);
var verifierTime = stopwatch.Elapsed;
stopwatch.Restart();
var drafterWeights = DemoTrainer.Train(DemoModelConfig.Drafter, corpus, DemoModels.DrafterTraining, seed, teacher: verifierWeights);
var drafterTime = stopwatch.Elapsed;
process.Refresh();
Console.WriteLine($"Training wall time: verifier {verifierTime.TotalSeconds:F1} s, drafter {drafterTime.TotalSeconds:F1} s, total {(verifierTime + drafterTime).TotalSeconds:F1} s (process CPU time {(process.TotalProcessorTime - cpuStart).TotalSeconds:F1} s; load average now {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");

var folder = Path.Combine(Path.GetTempPath(), "specfn-demo-bench-" + Environment.ProcessId);
DemoModels.WriteModelFolder(verifierWeights, Path.Combine(folder, "verifier"));
DemoModels.WriteModelFolder(drafterWeights, Path.Combine(folder, "drafter"));
foreach (var (name, weights) in new[] { ("verifier", verifierWeights), ("drafter", drafterWeights) })
{
    var onnx = new FileInfo(Path.Combine(folder, name, "model.onnx")).Length;
    Console.WriteLine($"{name}: {weights.Config.ParameterCount:N0} parameters = {weights.SizeInBytes / 1e6:F2} MB float32; model.onnx {onnx / 1e6:F2} MB");
}

var verifier = new DemoModel(verifierWeights);
var drafter = new DemoModel(drafterWeights);
Console.WriteLine("Held-out prompts (every prefix), temperature 1:");
foreach (var language in corpus.Languages)
{
    var a = DemoEvaluation.Compare(verifier, drafter, language.HeldOutPrompts);
    Console.WriteLine($"  {language.Id}: alpha {a.MeanAlpha:F3}  D_T {a.MeanCrossEntropy:F3}  KL {a.MeanKl:F3}  text CE verifier {TextCrossEntropy(verifier, language.HeldOutPrompts):F3} drafter {TextCrossEntropy(drafter, language.HeldOutPrompts):F3}  ({a.Prefixes} prefixes)");
}

if (Directory.Exists(mgsm))
{
    Console.WriteLine("MGSM (first 30 questions):");
    foreach (var file in Directory.GetFiles(mgsm, "mgsm_*.tsv").Order())
    {
        var prompts = File.ReadLines(file).Take(30).Select(l => l.Split('\t')[0]).ToArray();
        var a = DemoEvaluation.Compare(verifier, drafter, prompts);
        Console.WriteLine($"  {Path.GetFileNameWithoutExtension(file)}: alpha {a.MeanAlpha:F3}  D_T {a.MeanCrossEntropy:F3}  KL {a.MeanKl:F3}");
    }
}

Console.WriteLine("Greedy continuations (reference forward pass, 80 bytes):");
foreach (var prompt in new[] { "On Sunday mornings my father", "Una caja tiene 12 huevos.", "Le dimanche matin, mon père", "星期天早上，" })
{
    foreach (var (name, model) in new[] { ("verifier", verifier), ("drafter", drafter) })
    {
        var bytes = new List<byte>(Encoding.UTF8.GetBytes(prompt));
        for (var i = 0; i < 80; i++)
        {
            var logits = model.Forward(bytes.ToArray());
            var next = Array.IndexOf(logits, logits.Max());
            if (next == 10)
            {
                break;
            }

            bytes.Add((byte)next);
        }

        Console.WriteLine($"  {name,-8} {Encoding.UTF8.GetString(bytes.ToArray())}");
    }
}

using var options = new SessionOptions { IntraOpNumThreads = 2 };
using var verifierSession = new InferenceSession(Path.Combine(folder, "verifier", "model.onnx"), options);
using var drafterSession = new InferenceSession(Path.Combine(folder, "drafter", "model.onnx"), options);
foreach (var keep in new[] { false, true })
{
    var v1 = Time(verifierSession, DemoModelConfig.Verifier.Window - 1, 1, keep);
    var v5 = Time(verifierSession, DemoModelConfig.Verifier.Window - 1, 5, keep);
    var d1 = Time(drafterSession, DemoModelConfig.Drafter.Window - 1, 1, keep);
    Console.WriteLine($"ONNX Runtime (2 intra-op threads), window-1+rows tokens, {(keep ? "logits_to_keep = rows" : "all rows computed")}, median per call: verifier 1 row {v1:F1} µs, 5 rows {v5:F1} µs; drafter 1 row {d1:F1} µs");
    Console.WriteLine($"  c = drafter / verifier(1 row) = {d1 / v1:F3};  v_4 = verifier(5 rows) / verifier(1 row) = {v5 / v1:F3}");
}

Directory.Delete(folder, recursive: true);

static double Time(InferenceSession session, int context, int rows, bool keep)
{
    var tokens = context + rows;
    var ids = Enumerable.Range(0, tokens).Select(i => (long)"The quick brown fox jumps over"[i % 30]).ToArray();
    var input = new DenseTensor<long>(ids, [1, tokens]);
    var inputs = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("input_ids", input) };
    if (keep)
    {
        inputs.Add(NamedOnnxValue.CreateFromTensor("logits_to_keep", new DenseTensor<long>(new[] { (long)rows }, [])));
    }

    for (var i = 0; i < 200; i++)
    {
        using var warm = session.Run(inputs);
    }

    var samples = new double[2000];
    for (var i = 0; i < samples.Length; i++)
    {
        var start = Stopwatch.GetTimestamp();
        using var result = session.Run(inputs);
        samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }

    Array.Sort(samples);
    return samples[samples.Length / 2];
}

static double TextCrossEntropy(DemoModel model, IEnumerable<string> prompts)
{
    double total = 0;
    var count = 0;
    var logProbabilities = new double[256];
    foreach (var prompt in prompts)
    {
        var bytes = Encoding.UTF8.GetBytes(prompt);
        var logits = model.ForwardAll(bytes);
        for (var t = 0; t + 1 < bytes.Length; t++)
        {
            var row = logits.AsSpan(t * 256, 256);
            var max = float.NegativeInfinity;
            foreach (var x in row)
            {
                max = Math.Max(max, x);
            }

            double sum = 0;
            foreach (var x in row)
            {
                sum += Math.Exp(x - max);
            }

            total -= row[bytes[t + 1]] - max - Math.Log(sum);
            count++;
        }
    }

    return total / count;
}
