using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Onnx;
using SpecFunctions.OnnxGraphs;

namespace SpecFunctions.Benchmarks;

/// <summary>
/// A random-weight decoder-with-past transformer built by the project's graph builder (timing only: its weights mean
/// nothing), run through ONNX Runtime on the CPU or CUDA, all numbers from one run:
/// per generated token the wall time (tokens/s) and managed allocations on the plain <c>Run</c> path and on the
/// IO-binding path (ratios old/new), the verification cost ratio v_γ, the KV-cache bytes the plain path moves per call,
/// and, with a smaller random drafter through the real engine, c, v_γ and the measured vs refined speed-up.
/// </summary>
internal static class TransformerBench
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static int Run(string[] args)
    {
        string Arg(string name, string fallback)
        {
            var i = Array.IndexOf(args, "--" + name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        int Int(string name, int fallback) => int.Parse(Arg(name, fallback.ToString(Invariant)), Invariant);

        var half = args.Contains("--half");
        var device = Arg("device", "cpu") switch
        {
            "cpu" => OnnxDevice.Cpu,
            "cuda" => OnnxDevice.Cuda,
            var other => throw new ArgumentException($"--device must be cpu or cuda, got '{other}'"),
        };
        var verifierConfig = new TinyTransformerConfig
        {
            Layers = Int("layers", 2),
            ModelDim = Int("dim", 32),
            Heads = Int("heads", 2),
            HiddenDim = Int("hidden", 4 * Int("dim", 32)),
            VocabularySize = Int("vocab", 260),
            MaxPositions = Int("positions", 1024),
            HalfPrecision = half,
            Float16 = args.Contains("--float16-cache"),
            WeightScale = 0.5f,
            Seed = 1,
        };
        var drafterDim = Int("drafter-dim", Math.Max(verifierConfig.Heads, verifierConfig.ModelDim / 4));
        var drafterConfig = verifierConfig with
        {
            Layers = Int("drafter-layers", Math.Max(1, verifierConfig.Layers / 8)),
            ModelDim = drafterDim,
            HiddenDim = 4 * drafterDim,
            Seed = 2,
        };
        var context = Int("context", 256);
        var tokens = Int("tokens", 64);
        var rounds = Int("rounds", 5);
        var gamma = Int("gamma", 4);
        var prompts = Int("prompts", 4);
        var newTokens = Int("new-tokens", 32);
        var results = Arg("results", string.Empty);
        var label = Arg("label", half ? "float16" : "float32");
        var root = Arg("models", Path.Combine(Path.GetTempPath(), "specfn-transformer-bench-" + Guid.NewGuid().ToString("N")));
        var keep = args.Contains("--models");

        var report = new List<string>();
        void Say(string line)
        {
            Console.WriteLine(line);
            report.Add(line);
        }

        try
        {
            var watch = Stopwatch.StartNew();
            var verifierFolder = Write(Path.Combine(root, "verifier"), verifierConfig, "random-verifier");
            var drafterFolder = Write(Path.Combine(root, "drafter"), drafterConfig, "random-drafter");
            Say($"## Random-weight transformer ({label}), device {device.ToString().ToLowerInvariant()}");
            Say($"verifier: {verifierConfig.Parameters / 1e6:F1} M parameters ({verifierConfig.Layers} layers, width {verifierConfig.ModelDim}, {verifierConfig.Heads} heads, MLP {verifierConfig.HiddenDim}, vocabulary {verifierConfig.VocabularySize}, {(half ? "float16 throughout" : verifierConfig.Float16 ? "float16 cache" : "float32")}); drafter {drafterConfig.Parameters / 1e6:F2} M ({drafterConfig.Layers} layers, width {drafterConfig.ModelDim}); built in {watch.Elapsed.TotalSeconds:F1} s");
            Say($"per token: {rounds} rounds of {tokens} greedy single-token calls after a {context}-token prefill, then a rewind; median call; load {LoadAverage()}");

            var options = new OnnxModelOptions { Device = device, RequireDevice = device == OnnxDevice.Cuda, IntraOpThreads = Int("threads", 0) };
            // Both paths loaded side by side and measured in alternating rounds, so drift in machine load hits both alike.
            watch.Restart();
            using var plainModel = OnnxLanguageModel.Load(verifierFolder, options with { IoBinding = false });
            using var boundModel = OnnxLanguageModel.Load(verifierFolder, options);
            var loadSeconds = watch.Elapsed.TotalSeconds / 2;
            var (old, bound) = MeasurePair(plainModel, boundModel, context, tokens, rounds, gamma);
            var cacheBytes = CacheBytes(verifierConfig, context);
            foreach (var (costs, binding) in new[] { (old, false), (bound, true) })
            {
                Say($"{(binding ? "IO binding" : "plain Run ")}: {costs.PerTokenMs * 1000:F1} µs/token = {1000 / costs.PerTokenMs:F1} tokens/s, {costs.AllocatedPerToken:F0} B managed/token, γ+1 = {gamma + 1} positions {costs.VerifyMs * 1000:F1} µs (v_γ = {costs.VerifyMs / costs.PerTokenMs:F3}); KV cache at {context} tokens {cacheBytes / 1e6:F1} MB{(binding ? " stays on the device" : device == OnnxDevice.Cuda ? " crosses device → host → device every call" : " (host memory either way)")}");
            }

            Say($"provider {boundModel.ExecutionProvider}; session load {loadSeconds:F1} s each");
            Say($"ratios: tokens/s IO binding / plain = {old.PerTokenMs / bound.PerTokenMs:F3}; managed allocations per token plain / IO binding = {old.AllocatedPerToken / bound.AllocatedPerToken:F2}");

            // The pair through the real engine (IO binding on, the default): c, v_γ and speed-ups as the audit reports them.
            var verifier = boundModel;
            using var drafter = OnnxLanguageModel.Load(drafterFolder, options);
            var drafterCosts = MeasurePair(drafter, drafter, context, tokens, rounds, gamma).Plain;
            Say($"drafter: {drafterCosts.PerTokenMs * 1000:F1} µs/token; c = drafter / verifier per token = {drafterCosts.PerTokenMs / bound.PerTokenMs:F4}");
            var random = new Random(7);
            var encoded = Enumerable.Range(0, prompts).Select(_ => Enumerable.Range(0, 16).Select(_ => random.Next(0, 256)).ToArray()).ToList();
            var decoding = new DecodingOptions { Gamma = gamma, MaxNewTokens = newTokens, Sampling = new SamplingOptions { Temperature = 1 }, StopTokens = [] };
            new TaskRunner(drafter, verifier, decoding with { MaxNewTokens = 4 }).Run([encoded[0]], new TaskStatisticsBuilder(gamma));
            var statistics = new TaskStatisticsBuilder(gamma);
            new TaskRunner(drafter, verifier, decoding).Run(encoded, statistics);
            var suite = SuiteAnalyzer.Analyze([("random", statistics.Build())], gamma);
            var task = suite.Tasks[0];
            Say($"engine ({prompts} prompts × {newTokens} new tokens, γ = {gamma}, T = 1): c = {suite.CostRatio:F4}, v_γ = {suite.VerificationCostRatio:F3}, α = {task.Alpha:F3}, tokens/step {task.MeanAcceptedLength:F2}, S (paper) {task.AnalyticalSpeedup:F2}, refined {task.RefinedSpeedup:F2}, measured {task.MeasuredSpeedup:F2} [{task.MeasuredSpeedupCi?.Lower:F2}, {task.MeasuredSpeedupCi?.Upper:F2}], measured/refined {task.MeasuredSpeedup / task.RefinedSpeedup:F2}");
        }
        finally
        {
            if (results.Length > 0)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(results))!);
                File.AppendAllLines(results, [.. report, string.Empty]);
            }

            if (!keep && Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }

        return 0;
    }

    private static string Write(string folder, TinyTransformerConfig config, string name) =>
        File.Exists(Path.Combine(folder, ModelManifest.FileName)) ? folder : TinyTransformerBuilder.WriteModelFolder(folder, config, name);

    /// <summary>Bytes of the whole KV cache at <paramref name="context"/> tokens: 2 × layers × [heads, context, headDim].</summary>
    private static long CacheBytes(TinyTransformerConfig config, int context) =>
        2L * config.Layers * config.Heads * context * config.HeadDim * (config.HalfPrecision || config.Float16 ? 2 : 4);

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";

    private sealed record CallCosts(double PerTokenMs, double AllocatedPerToken, double VerifyMs);

    /// <summary>
    /// Per generated token: <paramref name="tokens"/> greedy single-token calls after a prefill, then a rewind to the
    /// prefill, per round (one warm-up round), the two models alternating round by round; the median single call (calls
    /// are timed one by one, so a preempted call on a shared machine does not weigh in), managed bytes over all rounds
    /// (the rewind's compaction included). Then the γ+1-position call (append γ+1, read every row, rewind), alternating
    /// likewise, median.
    /// </summary>
    private static (CallCosts Plain, CallCosts Bound) MeasurePair(ILanguageModel plain, ILanguageModel bound, int context, int tokens, int rounds, int gamma)
    {
        var random = new Random(3);
        var prompt = Enumerable.Range(0, context).Select(_ => random.Next(0, Math.Min(256, plain.VocabularySize))).ToArray();
        var row = new float[plain.VocabularySize];
        var block = new float[(gamma + 1) * plain.VocabularySize];
        ILanguageModel[] models = [plain, bound];
        var sequences = models.Select(m => m.CreateSequence()).ToArray();
        try
        {
            var perToken = new[] { new List<double>(), new List<double>() };
            var verify = new[] { new List<double>(), new List<double>() };
            var allocated = new long[2];
            foreach (var sequence in sequences)
            {
                sequence.Append(prompt, []);
            }

            for (var round = 0; round <= rounds; round++)
            {
                for (var m = 0; m < 2; m++)
                {
                    var sequence = sequences[m];
                    var next = prompt[^1];
                    var before = GC.GetAllocatedBytesForCurrentThread();
                    for (var i = 0; i < tokens; i++)
                    {
                        var start = Stopwatch.GetTimestamp();
                        sequence.Append([next], row);
                        if (round > 0)
                        {
                            perToken[m].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                        }

                        next = TensorPrimitives.IndexOfMax(row) % 256;
                    }

                    sequence.Truncate(context);
                    if (round > 0)
                    {
                        allocated[m] += GC.GetAllocatedBytesForCurrentThread() - before;
                    }
                }
            }

            var draft = prompt[..(gamma + 1)];
            for (var call = 0; call <= Math.Max(rounds, tokens / 2); call++)
            {
                for (var m = 0; m < 2; m++)
                {
                    var watch = Stopwatch.StartNew();
                    sequences[m].Append(draft, block);
                    sequences[m].Truncate(context);
                    if (call > 0)
                    {
                        verify[m].Add(watch.Elapsed.TotalMilliseconds);
                    }
                }
            }

            CallCosts Costs(int m) => new(Median(perToken[m]), allocated[m] / (double)(rounds * tokens), Median(verify[m]));
            return (Costs(0), Costs(1));
        }
        finally
        {
            foreach (var sequence in sequences)
            {
                sequence.Dispose();
            }
        }
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
