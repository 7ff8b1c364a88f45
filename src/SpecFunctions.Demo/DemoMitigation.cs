using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Models;

namespace SpecFunctions.Demo;

/// <summary>One task of a demo mitigation: id, measured D_T (nats), training prompts and held-out prompts.</summary>
public sealed record DemoMitigationTask(string Id, double CrossEntropy, IReadOnlyList<string> TrainingPrompts, IReadOnlyList<string> HeldOutPrompts);

/// <summary>Hyperparameters of the demo drafter mitigation (README "Mitigation").</summary>
public sealed record DemoMitigationOptions
{
    /// <summary>Fine-tuning steps. Default 600.</summary>
    [JsonPropertyName("steps")]
    public int Steps { get; init; } = 600;

    /// <summary>Prefixes per step, all from one sampled task. Default 32.</summary>
    [JsonPropertyName("batchSize")]
    public int BatchSize { get; init; } = 32;

    /// <summary>Adam learning rate. Default 0.002.</summary>
    [JsonPropertyName("learningRate")]
    public float LearningRate { get; init; } = 0.002f;

    /// <summary>K: steps between re-estimates of D_T on held-out prompts and of the task weights. Default 100.</summary>
    [JsonPropertyName("reweightEvery")]
    public int ReweightEvery { get; init; } = 100;

    /// <summary>Training prompts used per task (the first ones). Default 40.</summary>
    [JsonPropertyName("promptsPerTask")]
    public int PromptsPerTask { get; init; } = 40;

    /// <summary>Bytes the verifier generates after each training prompt (sampled at temperature 1; stops at a line feed). Default 96.</summary>
    [JsonPropertyName("continuationBytes")]
    public int ContinuationBytes { get; init; } = 96;

    /// <summary>Drafter temperatures τ the <c>temperature</c> strategy tries. Default 0.7 … 2.0.</summary>
    [JsonPropertyName("temperatureGrid")]
    public IReadOnlyList<double> TemperatureGrid { get; init; } = [0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0];

    /// <summary>γ of the expected-tokens guard of the <c>temperature</c> strategy. Default 4.</summary>
    [JsonPropertyName("gamma")]
    public int Gamma { get; init; } = 4;

    /// <summary>Largest relative drop of mean f_γ(α_T) the <c>temperature</c> strategy accepts. Default 0.02.</summary>
    [JsonPropertyName("speedupTolerance")]
    public double SpeedupTolerance { get; init; } = 0.02;

    /// <summary>Gradient shards per batch (results depend on it, not on threads). Default 2.</summary>
    [JsonPropertyName("shards")]
    public int Shards { get; init; } = 2;
}

/// <summary>What a mitigation produced.</summary>
/// <param name="Weights">The new drafter.</param>
/// <param name="CrossEntropyBefore">Held-out D_T per task of the base drafter (nats).</param>
/// <param name="CrossEntropyAfter">Held-out D_T per task of the new drafter (nats).</param>
/// <param name="Notes">One line: what was done (steps, final weights, chosen τ).</param>
/// <param name="CorrectiveData">The soft-label data the drafter was fine-tuned on, per task (empty for strategies that do not train).</param>
public sealed record DemoMitigationResult(
    DemoModelWeights Weights, IReadOnlyList<double> CrossEntropyBefore, IReadOnlyList<double> CrossEntropyAfter, string Notes, IReadOnlyList<SoftLabelTask>? CorrectiveData = null)
{
    /// <summary>U before: variance of D_T with 1/m.</summary>
    public double UnfairnessBefore => FairnessMetrics.UnfairnessOf(CrossEntropyBefore);

    /// <summary>U after.</summary>
    public double UnfairnessAfter => FairnessMetrics.UnfairnessOf(CrossEntropyAfter);
}

/// <summary>
/// The in-process mitigation of the demo drafter (method.md §6): s-CDF, data balancing, drafter temperature tuning, or
/// nothing. Only the drafter changes; the verifier is read, never written. Deterministic for a seed.
/// </summary>
public static class DemoMitigation
{
    /// <summary>Name of the folder <see cref="TrainToFolder"/> creates inside its output folder.</summary>
    public const string OutputFolderName = "drafter";

    /// <summary>
    /// Runs <paramref name="strategy"/> on the drafter in <paramref name="drafterFolder"/> and writes the new drafter as a
    /// complete model folder <c>outputFolder/drafter</c> (model.onnx, weights.bin, and the base drafter's own
    /// specfn-model.json). The folder is assembled under a staging name and renamed last, so an interrupted run never
    /// leaves a folder that looks complete. Returns the new folder and the result.
    /// </summary>
    public static (string Folder, DemoMitigationResult Result) TrainToFolder(
        string verifierFolder,
        string drafterFolder,
        string strategy,
        WeightRule weightRule,
        IReadOnlyList<DemoMitigationTask> tasks,
        int seed,
        string outputFolder,
        DemoMitigationOptions? options = null,
        IProgress<string>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        var verifier = DemoModels.LoadWeights(verifierFolder);
        var drafter = DemoModels.LoadWeights(drafterFolder);
        var manifest = File.ReadAllBytes(Path.Combine(drafterFolder, ModelManifest.FileName));
        var result = Train(verifier, drafter, strategy, weightRule, tasks, seed, options, progress, cancellationToken);

        var target = Path.Combine(Path.GetFullPath(outputFolder), OutputFolderName);
        if (Directory.Exists(target))
        {
            throw new IOException($"The output folder '{target}' already exists; a mitigation writes a new drafter folder only.");
        }

        StagedFolders.WriteNew(Path.GetFullPath(outputFolder), OutputFolderName, staging =>
        {
            DemoModels.WriteModelFolder(result.Weights, staging);

            // Keep the base drafter's manifest byte for byte: same name and family, only the weights differ.
            File.WriteAllBytes(Path.Combine(staging, ModelManifest.FileName), manifest);
        }, cancellationToken);

        progress?.Report(result.Notes);
        return (target, result);
    }

    /// <summary>Runs <paramref name="strategy"/> in memory; neither input is changed.</summary>
    public static DemoMitigationResult Train(
        DemoModelWeights verifier,
        DemoModelWeights drafter,
        string strategy,
        WeightRule weightRule,
        IReadOnlyList<DemoMitigationTask> tasks,
        int seed,
        DemoMitigationOptions? options = null,
        IProgress<string>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(drafter);
        ArgumentNullException.ThrowIfNull(tasks);
        options ??= new DemoMitigationOptions();
        if (tasks.Count == 0)
        {
            throw new ArgumentException("A mitigation needs at least one task.", nameof(tasks));
        }

        foreach (var task in tasks)
        {
            if (task.HeldOutPrompts.Count == 0 || task.HeldOutPrompts.All(p => p.Length == 0))
            {
                throw new ArgumentException($"Task '{task.Id}' has no held-out prompts to estimate D_T on.", nameof(tasks));
            }
        }

        var heldOut = tasks.Select(t => HeldOutSet.Create(verifier, t.HeldOutPrompts)).ToArray();
        var before = heldOut.Select(h => h.CrossEntropy(drafter)).ToArray();
        progress?.Report($"held-out D_T before: {Format(before)}; U {FairnessMetrics.UnfairnessOf(before):G4}");
        switch (strategy)
        {
            case MitigationStrategies.None:
                return new DemoMitigationResult(drafter.Clone(), before, before, "none: the base drafter, unchanged");

            case MitigationStrategies.Temperature:
            {
                // Fairest τ among those that keep the mean expected tokens per verifier call, mean f_γ(α_T), within
                // SpeedupTolerance of the base drafter's (the cost ratio c does not change with τ, so this is the
                // mean analytical speed-up): flattening the drafter always evens out D_T, by making every task worse.
                var baseTokens = heldOut.Average(h => SpeculativeMath.ExpectedTokensPerStep(h.Measure(drafter).Alpha, options.Gamma));
                var best = ChooseTemperature(options.TemperatureGrid, before, baseTokens, options.SpeedupTolerance, tau =>
                {
                    var measured = heldOut.Select(h => h.Measure(WithOutputTemperature(drafter, tau))).ToArray();
                    return ([.. measured.Select(m => m.CrossEntropy)], measured.Average(m => SpeculativeMath.ExpectedTokensPerStep(m.Alpha, options.Gamma)));
                }, progress, cancellationToken);
                return new DemoMitigationResult(WithOutputTemperature(drafter, best.Tau), before, best.CrossEntropy, best.Notes);
            }

            case MitigationStrategies.SCdf:
            case MitigationStrategies.Balanced:
                return FineTune(verifier, drafter, strategy, strategy == MitigationStrategies.Balanced ? WeightRule.Uniform : weightRule, tasks, heldOut, before, seed, options, progress, cancellationToken);

            default:
                throw new ArgumentException($"Unknown mitigation strategy '{strategy}' (known: {string.Join(", ", MitigationStrategies.DrafterStrategies)}).", nameof(strategy));
        }
    }

    /// <summary>
    /// The <c>temperature</c> baseline's choice, for any drafter family: among <paramref name="grid"/>, the τ with the lowest U
    /// whose mean expected tokens per verifier call, mean f_γ(α_T), stays within <paramref name="tolerance"/> of the base
    /// drafter's <paramref name="baseTokens"/> (c does not change with τ, so this is the mean analytical speed-up):
    /// flattening the drafter always evens out D_T, by making every task worse. τ = 1 when none qualifies.
    /// </summary>
    /// <param name="measure">Held-out D_T per task and mean f_γ(α_T) of the drafter at temperature τ.</param>
    public static (double Tau, IReadOnlyList<double> CrossEntropy, string Notes) ChooseTemperature(
        IReadOnlyList<double> grid,
        IReadOnlyList<double> before,
        double baseTokens,
        double tolerance,
        Func<double, (double[] CrossEntropy, double Tokens)> measure,
        IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(measure);
        var best = (Tau: 1.0, U: FairnessMetrics.UnfairnessOf(before), D: before);
        foreach (var tau in grid)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!(tau > 0) || !double.IsFinite(tau))
            {
                throw new ArgumentOutOfRangeException(nameof(grid), tau, "Every drafter temperature must be positive and finite.");
            }

            var (d, tokens) = measure(tau);
            var u = FairnessMetrics.UnfairnessOf(d);
            progress?.Report(string.Create(CultureInfo.InvariantCulture, $"τ {tau:G3}: U {u:G4}, mean f_γ(α) {tokens:F3} (base {baseTokens:F3})"));
            if (u < best.U && tokens >= baseTokens * (1 - tolerance))
            {
                best = (tau, u, d);
            }
        }

        return (best.Tau, best.D, string.Create(
            CultureInfo.InvariantCulture,
            $"temperature: τ = {best.Tau:G3} (grid {string.Join(", ", grid)}; mean f_γ(α) within {tolerance:P0}); U {FairnessMetrics.UnfairnessOf(before):G4} → {best.U:G4}"));
    }

    /// <summary>
    /// A copy of <paramref name="weights"/> whose logits are divided by <paramref name="tau"/> (1/τ baked into the output
    /// layer's weights and bias): a drafter-only temperature that keeps an ordinary model folder.
    /// </summary>
    public static DemoModelWeights WithOutputTemperature(DemoModelWeights weights, double tau)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var copy = weights.Clone();
        var last = copy.Layers[^1];
        var scale = (float)(1.0 / tau);
        System.Numerics.Tensors.TensorPrimitives.Multiply(last.W, scale, last.W);
        System.Numerics.Tensors.TensorPrimitives.Multiply(last.B, scale, last.B);
        return copy;
    }

    /// <summary>
    /// The corrective data of one task: for each prompt the verifier samples up to <paramref name="continuationBytes"/>
    /// bytes (temperature 1, stopping after a line feed); every prefix of prompt + continuation becomes an example
    /// whose soft label is the verifier's next-byte distribution there.
    /// </summary>
    public static SoftLabelTask CorrectiveData(string id, DemoModelWeights verifier, IEnumerable<string> prompts, int continuationBytes, int seed)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(prompts);
        const int v = DemoModelConfig.VocabularySize;
        var model = new DemoModel(verifier);
        var random = new DeterministicRandom(0xC0DE0000UL ^ (ulong)(uint)seed ^ ((ulong)(uint)id.GetDeterministicHashCode() << 32));
        var examples = new List<SoftLabelExample>();
        var logP = new double[v];
        var logits = new float[v];
        foreach (var prompt in prompts)
        {
            var text = new List<byte>(Encoding.UTF8.GetBytes(prompt));
            if (text.Count == 0)
            {
                continue;
            }

            var all = model.ForwardAll(text.ToArray());
            for (var t = 0; t < text.Count - 1; t++)
            {
                examples.Add(new SoftLabelExample(text.GetRange(0, t + 1).ToArray(), Probabilities(all.AsSpan(t * v, v), logP)));
            }

            all.AsSpan((text.Count - 1) * v, v).CopyTo(logits);
            for (var i = 0; i < continuationBytes; i++)
            {
                var target = Probabilities(logits, logP);
                examples.Add(new SoftLabelExample(text.ToArray(), target));
                var next = Sample(target, random);
                text.Add((byte)next);
                if (next == DemoModels.EndOfSequenceByte)
                {
                    break;
                }

                model.Forward(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(text), logits);
            }
        }

        return new SoftLabelTask(id, examples);
    }

    private static DemoMitigationResult FineTune(
        DemoModelWeights verifier,
        DemoModelWeights drafter,
        string strategy,
        WeightRule rule,
        IReadOnlyList<DemoMitigationTask> tasks,
        HeldOutSet[] heldOut,
        double[] before,
        int seed,
        DemoMitigationOptions options,
        IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        var data = new SoftLabelTask[tasks.Count];
        for (var i = 0; i < tasks.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var prompts = tasks[i].TrainingPrompts.Where(p => p.Length > 0).Take(options.PromptsPerTask).ToArray();
            if (prompts.Length == 0)
            {
                throw new ArgumentException($"Task '{tasks[i].Id}' has no training prompts.", nameof(tasks));
            }

            data[i] = CorrectiveData(tasks[i].Id, verifier, prompts, options.ContinuationBytes, seed);
        }

        progress?.Report($"corrective data: {string.Join(", ", data.Select(d => $"{d.Id} {d.Examples.Count}"))} prefixes");

        // Weights start from the job's measured D_T (the evaluation's, on the drafted prefixes); every K steps they are
        // re-estimated on the held-out prompts' prefixes, so they follow the drafter as it moves.
        var initial = SamplingWeights([.. tasks.Select(t => t.CrossEntropy)], rule);
        var reweights = new List<string>();
        var result = DrafterTrainer.FineTune(
            drafter,
            data,
            initial,
            new FineTuneOptions
            {
                Steps = options.Steps,
                BatchSize = options.BatchSize,
                LearningRate = options.LearningRate,
                ReweightEvery = options.ReweightEvery,
                Seed = seed,
                Shards = options.Shards,
            },
            (step, current) =>
            {
                var d = heldOut.Select(h => h.CrossEntropy(current)).ToArray();
                progress?.Report($"step {step}: D_T {Format(d)}; U {FairnessMetrics.UnfairnessOf(d):G4}");
                reweights.Add(string.Create(CultureInfo.InvariantCulture, $"{step}:U={FairnessMetrics.UnfairnessOf(d):G3}"));
                return SamplingWeights(d, rule);
            },
            cancellationToken);
        var after = heldOut.Select(h => h.CrossEntropy(result.Weights)).ToArray();
        var notes = string.Create(
            CultureInfo.InvariantCulture,
            $"{strategy} ({rule}): {options.Steps} steps of {options.BatchSize}, lr {options.LearningRate}, K {options.ReweightEvery}; steps per task {string.Join(", ", tasks.Select((t, i) => $"{t.Id} {result.StepsPerTask[i]}"))}; prefixes per task {string.Join(", ", data.Select(d => $"{d.Id} {d.Examples.Count}"))}; final weights {Format(result.FinalTaskWeights)}; U {FairnessMetrics.UnfairnessOf(before):G4} → {FairnessMetrics.UnfairnessOf(after):G4}");
        return new DemoMitigationResult(result.Weights, before, after, notes, data);
    }

    /// <summary>
    /// Task sampling weights from D_T. Negative weights (only <see cref="WeightRule.VarianceGradient"/> has them: tasks
    /// already better than average) are clamped to zero: s-CDF is corrective, it never trains a drafter to get worse on
    /// a task. When every weight is zero (all tasks equal) tasks are sampled uniformly.
    /// </summary>
    public static double[] SamplingWeights(IReadOnlyList<double> crossEntropy, WeightRule rule)
    {
        var weights = TaskWeights.Compute(crossEntropy, rule).Select(w => Math.Max(0, w)).ToArray();
        return weights.Sum() > 0 ? weights : [.. weights.Select(_ => 1.0)];
    }

    private static float[] Probabilities(ReadOnlySpan<float> logits, double[] logP)
    {
        DemoEvaluation.LogSoftmax(logits, 1.0, logP);
        var p = new float[logP.Length];
        for (var x = 0; x < p.Length; x++)
        {
            p[x] = (float)Math.Exp(logP[x]);
        }

        return p;
    }

    private static int Sample(float[] p, DeterministicRandom random)
    {
        var u = random.NextDouble();
        double total = 0;
        for (var x = 0; x < p.Length; x++)
        {
            total += p[x];
            if (u < total)
            {
                return x;
            }
        }

        return Array.FindLastIndex(p, q => q > 0);
    }

    private static string Format(IEnumerable<double> values) =>
        string.Join(" ", values.Select(d => d.ToString("F3", CultureInfo.InvariantCulture)));

    private static int GetDeterministicHashCode(this string text)
    {
        // string.GetHashCode is randomised per process; FNV-1a is not.
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)hash;
    }

    /// <summary>Held-out prefixes of one task with the verifier's log-probabilities cached (they never change).</summary>
    private sealed class HeldOutSet
    {
        private readonly byte[][] _contexts;
        private readonly float[] _p;

        private HeldOutSet(byte[][] contexts, float[] p)
        {
            _contexts = contexts;
            _p = p;
        }

        public static HeldOutSet Create(DemoModelWeights verifier, IEnumerable<string> prompts)
        {
            const int v = DemoModelConfig.VocabularySize;
            var model = new DemoModel(verifier);
            var contexts = new List<byte[]>();
            var p = new List<float>();
            var logP = new double[v];
            foreach (var prompt in prompts)
            {
                var bytes = Encoding.UTF8.GetBytes(prompt);
                var logits = model.ForwardAll(bytes);
                for (var t = 0; t < bytes.Length; t++)
                {
                    contexts.Add(bytes[..(t + 1)]);
                    p.AddRange(Probabilities(logits.AsSpan(t * v, v), logP));
                }
            }

            return new HeldOutSet([.. contexts], [.. p]);
        }

        /// <summary>Mean −Σ p log q over the prefixes, the same D_T as <see cref="DemoEvaluation.Compare"/>.</summary>
        public double CrossEntropy(DemoModelWeights drafter) => Measure(drafter, alpha: false).CrossEntropy;

        /// <summary>
        /// One drafter forward pass per prefix: mean α(s) = Σ min(p, q) (only when <paramref name="alpha"/>: it costs an
        /// exponential per token) and mean −Σ p log q, as <see cref="DemoEvaluation.Compare"/>.
        /// </summary>
        public (double Alpha, double CrossEntropy) Measure(DemoModelWeights drafter, bool alpha = true)
        {
            const int v = DemoModelConfig.VocabularySize;
            var model = new DemoModel(drafter);
            var logits = new float[v];
            var logQ = new double[v];
            double alphaTotal = 0, crossEntropyTotal = 0;
            for (var i = 0; i < _contexts.Length; i++)
            {
                model.Forward(_contexts[i], logits);
                DemoEvaluation.LogSoftmax(logits, 1.0, logQ);
                var p = _p.AsSpan(i * v, v);
                for (var x = 0; x < v; x++)
                {
                    crossEntropyTotal -= p[x] * logQ[x];
                    if (alpha)
                    {
                        alphaTotal += Math.Min(p[x], Math.Exp(logQ[x]));
                    }
                }
            }

            return (alpha ? alphaTotal / _contexts.Length : double.NaN, crossEntropyTotal / _contexts.Length);
        }
    }
}
