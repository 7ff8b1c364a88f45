using System.Globalization;
using System.Text.Json.Serialization;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Models;
using SpecFunctions.Demo;
using SpecFunctions.Onnx.Tokenizers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SpecFunctions.Training;

/// <summary>Hyperparameters of the transformer drafter mitigation (docs/benchmarks.md, "Transformer pair").</summary>
public sealed record TransformerMitigationOptions
{
    /// <summary>Fine-tuning steps. Default 150.</summary>
    [JsonPropertyName("steps")]
    public int Steps { get; init; } = 150;

    /// <summary>Sequences per step, all from one sampled task. Default 8.</summary>
    [JsonPropertyName("batchSize")]
    public int BatchSize { get; init; } = 8;

    /// <summary>AdamW learning rate (constant). Default 1e-3.</summary>
    [JsonPropertyName("learningRate")]
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>K: steps between re-estimates of D_T on held-out prompts and of the task weights. Default 50.</summary>
    [JsonPropertyName("reweightEvery")]
    public int ReweightEvery { get; init; } = 50;

    /// <summary>Training prompts used per task (the first ones). Default 24.</summary>
    [JsonPropertyName("promptsPerTask")]
    public int PromptsPerTask { get; init; } = 24;

    /// <summary>Tokens the verifier samples after each training prompt (temperature 1). Default 24.</summary>
    [JsonPropertyName("continuationTokens")]
    public int ContinuationTokens { get; init; } = 24;

    /// <summary>Drafter temperatures τ the <c>temperature</c> strategy tries. Default 0.7 … 2.0.</summary>
    [JsonPropertyName("temperatureGrid")]
    public IReadOnlyList<double> TemperatureGrid { get; init; } = [0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0];

    /// <summary>γ of the expected-tokens guard of the <c>temperature</c> strategy. Default 4.</summary>
    [JsonPropertyName("gamma")]
    public int Gamma { get; init; } = 4;

    /// <summary>Largest relative drop of mean f_γ(α_T) the <c>temperature</c> strategy accepts. Default 0.02.</summary>
    [JsonPropertyName("speedupTolerance")]
    public double SpeedupTolerance { get; init; } = 0.02;
}

/// <summary>What a transformer mitigation produced: held-out D_T per task before and after, and one line of notes.</summary>
public sealed record TransformerMitigationResult(IReadOnlyList<double> CrossEntropyBefore, IReadOnlyList<double> CrossEntropyAfter, string Notes)
{
    public double UnfairnessBefore => FairnessMetrics.UnfairnessOf(CrossEntropyBefore);

    public double UnfairnessAfter => FairnessMetrics.UnfairnessOf(CrossEntropyAfter);
}

/// <summary>
/// The in-process mitigation of the transformer drafter (method.md §6) with TorchSharp: s-CDF (tasks sampled by D_T-based
/// weights, re-estimated every K steps on held-out prompts), data balancing (uniform task sampling, same loss), drafter
/// temperature tuning, or nothing. The loss is the cross-entropy to the verifier's soft labels
/// (<c>−Σ_x p(x|s) log q(x|s)</c>) on prefixes of the verifier's own continuations of each task's training prompts. Only the
/// drafter's weights move; the verifier is read, never written. Deterministic for a seed on a given machine.
/// </summary>
public static class TransformerMitigation
{
    /// <summary>Name of the folder <see cref="TrainToFolder"/> creates inside its output folder.</summary>
    public const string OutputFolderName = "drafter";

    /// <summary>
    /// Runs <paramref name="strategy"/> on the drafter in <paramref name="drafterFolder"/> and writes the new drafter as a
    /// complete model folder <c>outputFolder/drafter</c> (the base drafter's manifest, tokenizer files and genai_config.json,
    /// a new model.onnx and weights), assembled under a staging name and renamed last.
    /// </summary>
    public static (string Folder, TransformerMitigationResult Result) TrainToFolder(
        string verifierFolder,
        string drafterFolder,
        string strategy,
        WeightRule weightRule,
        IReadOnlyList<DemoMitigationTask> tasks,
        int seed,
        string outputFolder,
        TransformerMitigationOptions? options = null,
        IProgress<string>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        ArgumentNullException.ThrowIfNull(tasks);
        options ??= new TransformerMitigationOptions();
        var target = Path.Combine(Path.GetFullPath(outputFolder), OutputFolderName);
        if (Directory.Exists(target))
        {
            throw new IOException($"The output folder '{target}' already exists; a mitigation writes a new drafter folder only.");
        }

        using var verifier = TransformerModels.LoadModel(verifierFolder);
        using var drafter = TransformerModels.LoadModel(drafterFolder);
        var tokenizer = HuggingFaceTokenizer.Load(Path.Combine(drafterFolder, "tokenizer.json"));
        var manifest = OnnxManifest(drafterFolder);
        var bos = manifest.BosTokenId ?? throw new InvalidDataException($"'{drafterFolder}' has no bosTokenId in its manifest.");
        var result = Train(verifier, drafter, tokenizer, bos, strategy, weightRule, tasks, seed, options, progress, cancellationToken);

        StagedFolders.WriteNew(Path.GetFullPath(outputFolder), OutputFolderName, staging => TransformerModels.WriteFineTunedFolder(drafter, drafterFolder, staging), cancellationToken);
        progress?.Report(result.Notes);
        return (target, result);
    }

    /// <summary>Runs <paramref name="strategy"/> on <paramref name="drafter"/> in place; the verifier is only read.</summary>
    internal static TransformerMitigationResult Train(
        TorchTransformer verifier,
        TorchTransformer drafter,
        ITokenizer tokenizer,
        int bos,
        string strategy,
        WeightRule weightRule,
        IReadOnlyList<DemoMitigationTask> tasks,
        int seed,
        TransformerMitigationOptions options,
        IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        if (tasks.Count == 0)
        {
            throw new ArgumentException("A mitigation needs at least one task.", nameof(tasks));
        }

        var maxPositions = Math.Min(verifier.Config.MaxPositions, drafter.Config.MaxPositions);
        var heldOut = new Batch[tasks.Count];
        for (var i = 0; i < tasks.Count; i++)
        {
            var prompts = tasks[i].HeldOutPrompts.Where(p => p.Length > 0).ToArray();
            if (prompts.Length == 0)
            {
                throw new ArgumentException($"Task '{tasks[i].Id}' has no held-out prompts to estimate D_T on.", nameof(tasks));
            }

            heldOut[i] = Batch.Create(verifier, [.. prompts.Select(p => Encode(tokenizer, bos, p, maxPositions))]);
        }

        var before = heldOut.Select(h => h.Measure(drafter).CrossEntropy).ToArray();
        progress?.Report($"held-out D_T before: {Format(before)}; U {FairnessMetrics.UnfairnessOf(before):G4}");
        switch (strategy)
        {
            case MitigationStrategies.None:
                return new TransformerMitigationResult(before, before, "none: the base drafter, unchanged");

            case MitigationStrategies.Temperature:
                return TuneTemperature(drafter, heldOut, before, options, progress, cancellationToken);

            case MitigationStrategies.SCdf:
            case MitigationStrategies.Balanced:
                var rule = strategy == MitigationStrategies.Balanced ? WeightRule.Uniform : weightRule;
                return FineTune(verifier, drafter, tokenizer, bos, strategy, rule, tasks, heldOut, before, seed, options, progress, cancellationToken);

            default:
                throw new ArgumentException(
                    $"Unknown mitigation strategy '{strategy}' (known: {string.Join(", ", MitigationStrategies.DrafterStrategies)}).", nameof(strategy));
        }
    }

    private static TransformerMitigationResult TuneTemperature(
        TorchTransformer drafter, Batch[] heldOut, double[] before, TransformerMitigationOptions options, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var baseTokens = heldOut.Average(h => SpeculativeMath.ExpectedTokensPerStep(h.Measure(drafter).Alpha, options.Gamma));
        var best = DemoMitigation.ChooseTemperature(options.TemperatureGrid, before, baseTokens, options.SpeedupTolerance, tau =>
        {
            var measured = heldOut.Select(h => h.Measure(drafter, tau)).ToArray();
            return ([.. measured.Select(m => m.CrossEntropy)], measured.Average(m => SpeculativeMath.ExpectedTokensPerStep(m.Alpha, options.Gamma)));
        }, progress, cancellationToken);
        drafter.ScaleOutput(1.0 / best.Tau);
        return new TransformerMitigationResult(before, best.CrossEntropy, best.Notes);
    }

    private static TransformerMitigationResult FineTune(
        TorchTransformer verifier,
        TorchTransformer drafter,
        ITokenizer tokenizer,
        int bos,
        string strategy,
        WeightRule rule,
        IReadOnlyList<DemoMitigationTask> tasks,
        Batch[] heldOut,
        double[] before,
        int seed,
        TransformerMitigationOptions options,
        IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        var maxPositions = Math.Min(verifier.Config.MaxPositions, drafter.Config.MaxPositions);
        var data = new Batch[tasks.Count];
        for (var i = 0; i < tasks.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var prompts = tasks[i].TrainingPrompts.Where(p => p.Length > 0).Take(options.PromptsPerTask).ToArray();
            if (prompts.Length == 0)
            {
                throw new ArgumentException($"Task '{tasks[i].Id}' has no training prompts.", nameof(tasks));
            }

            var sequences = Continue(verifier, [.. prompts.Select(p => Encode(tokenizer, bos, p, maxPositions - options.ContinuationTokens))], options.ContinuationTokens, seed + (997L * i));
            data[i] = Batch.Create(verifier, sequences);
        }

        progress?.Report($"corrective data: {string.Join(", ", tasks.Select((t, i) => $"{t.Id} {data[i].Positions}"))} prefixes");

        // Weights start from the job's measured D_T (the evaluation's, on drafted prefixes); every K steps they are
        // re-estimated on the held-out prompts, so they follow the drafter as it moves.
        var weights = DemoMitigation.SamplingWeights([.. tasks.Select(t => t.CrossEntropy)], rule);
        var random = new DeterministicRandom(0x5CDF0000UL ^ (ulong)(uint)seed);
        var stepsPerTask = new int[tasks.Count];
        drafter.train();
        using var optimizer = optim.AdamW(drafter.parameters(), options.LearningRate, weight_decay: 0.0);
        for (var step = 1; step <= options.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (step > 1 && (step - 1) % Math.Max(1, options.ReweightEvery) == 0)
            {
                drafter.eval();
                var d = heldOut.Select(h => h.Measure(drafter).CrossEntropy).ToArray();
                progress?.Report($"step {step - 1}: D_T {Format(d)}; U {FairnessMetrics.UnfairnessOf(d):G4}");
                weights = DemoMitigation.SamplingWeights(d, rule);
                drafter.train();
            }

            var running = 0.0;
            var task = random.NextWeighted([.. weights.Select(w => running += w)]);
            stepsPerTask[task]++;
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var rows = Enumerable.Range(0, options.BatchSize).Select(_ => random.NextInt(data[task].Rows)).ToArray();
            var loss = data[task].Loss(drafter, rows);
            loss.backward();
            nn.utils.clip_grad_norm_(drafter.parameters(), 1.0);
            optimizer.step();
        }

        drafter.eval();
        var after = heldOut.Select(h => h.Measure(drafter).CrossEntropy).ToArray();
        var notes = string.Create(
            CultureInfo.InvariantCulture,
            $"{strategy} ({rule}): {options.Steps} steps of {options.BatchSize} sequences, lr {options.LearningRate}, K {options.ReweightEvery}; steps per task {string.Join(", ", tasks.Select((t, i) => $"{t.Id} {stepsPerTask[i]}"))}; final weights {Format(weights)}; U {FairnessMetrics.UnfairnessOf(before):G4} → {FairnessMetrics.UnfairnessOf(after):G4}");
        return new TransformerMitigationResult(before, after, notes);
    }

    private static long[] Encode(ITokenizer tokenizer, int bos, string text, int maxTokens)
    {
        var ids = tokenizer.Encode(text).Prepend(bos).Select(t => (long)t).ToArray();
        return ids.Length <= maxTokens ? ids : ids[..maxTokens];
    }

    /// <summary>The verifier's continuations (temperature 1) of every prompt, all prompts in one right-padded batch.</summary>
    private static long[][] Continue(TorchTransformer verifier, long[][] prompts, int tokens, long seed)
    {
        var lengths = prompts.Select(p => p.Length).ToArray();
        var width = lengths.Max() + tokens;
        var ids = new long[prompts.Length * width];
        for (var r = 0; r < prompts.Length; r++)
        {
            prompts[r].CopyTo(ids, r * width);
        }

        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        for (var step = 0; step < tokens; step++)
        {
            using var scope = NewDisposeScope();
            var used = lengths.Max();
            var batch = tensor(ids, [prompts.Length, width]).narrow(1, 0, used);
            var logits = verifier.forward(batch);
            var last = logits.gather(1, tensor(lengths.Select(l => (long)(l - 1)).ToArray(), [prompts.Length, 1, 1]).expand(-1, 1, logits.shape[2])).squeeze(1);
            var next = multinomial(F.softmax(last, -1), 1, generator: generator).flatten().data<long>().ToArray();
            for (var r = 0; r < prompts.Length; r++)
            {
                ids[(r * width) + lengths[r]] = next[r];
                lengths[r]++;
            }
        }

        return [.. prompts.Select((_, r) => ids.AsSpan(r * width, lengths[r]).ToArray())];
    }

    private static ModelManifest OnnxManifest(string folder) => SpecFunctions.Onnx.OnnxLanguageModel.ReadManifest(folder);

    private static string Format(IEnumerable<double> values) =>
        string.Join(" ", values.Select(d => d.ToString("F3", CultureInfo.InvariantCulture)));

    /// <summary>
    /// Right-padded token sequences of one task with the verifier's next-token distributions at every position (computed
    /// once: the verifier never changes) and a mask of the real positions.
    /// </summary>
    private sealed class Batch
    {
        private readonly Tensor _ids;
        private readonly Tensor _p;
        private readonly Tensor _mask;

        private Batch(Tensor ids, Tensor p, Tensor mask, int positions)
        {
            _ids = ids;
            _p = p;
            _mask = mask;
            Positions = positions;
        }

        public int Rows => (int)_ids.shape[0];

        /// <summary>Number of prefixes (real positions).</summary>
        public int Positions { get; }

        public static Batch Create(TorchTransformer verifier, long[][] sequences)
        {
            var width = sequences.Max(s => s.Length);
            var ids = new long[sequences.Length * width];
            var mask = new float[sequences.Length * width];
            for (var r = 0; r < sequences.Length; r++)
            {
                sequences[r].CopyTo(ids, r * width);
                mask.AsSpan(r * width, sequences[r].Length).Fill(1f);
            }

            var idTensor = tensor(ids, [sequences.Length, width]).DetachFromDisposeScope();
            using var noGrad = no_grad();
            var p = F.softmax(verifier.forward(idTensor), -1).detach().DetachFromDisposeScope();
            return new Batch(idTensor, p, tensor(mask, [sequences.Length, width]).DetachFromDisposeScope(), sequences.Sum(s => s.Length));
        }

        /// <summary>Mean −Σ p log q over the real positions of <paramref name="rows"/> (with gradients).</summary>
        public Tensor Loss(TorchTransformer drafter, int[] rows)
        {
            var index = tensor(rows.Select(r => (long)r).ToArray());
            var mask = _mask.index_select(0, index);
            var perPosition = -(_p.index_select(0, index) * F.log_softmax(drafter.forward(_ids.index_select(0, index)), -1)).sum(-1);
            return (perPosition * mask).sum() / mask.sum();
        }

        /// <summary>Mean α(s) = Σ min(p, q) and mean −Σ p log q over every real position, drafter logits divided by τ.</summary>
        public (double Alpha, double CrossEntropy) Measure(TorchTransformer drafter, double tau = 1.0)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logQ = F.log_softmax(drafter.forward(_ids) / tau, -1);
            var alpha = (minimum(_p, logQ.exp()).sum(-1) * _mask).sum() / _mask.sum();
            var crossEntropy = (-(_p * logQ).sum(-1) * _mask).sum() / _mask.sum();
            return (alpha.item<float>(), crossEntropy.item<float>());
        }
    }
}
