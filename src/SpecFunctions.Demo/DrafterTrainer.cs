using System.Text.Json.Serialization;
using SpecFunctions.Core.Mitigation.Training;

namespace SpecFunctions.Demo;

/// <summary>One soft-label example: a context and the verifier's next-byte distribution after it.</summary>
/// <param name="Context">The prefix (any length; the drafter reads its last Window bytes, pad before its start).</param>
/// <param name="Target">Probability distribution over the 256 bytes (non-negative, sums to 1 within 1e-3).</param>
public sealed record SoftLabelExample(byte[] Context, float[] Target);

/// <summary>The soft-label examples of one task (e.g. one language's training prefixes).</summary>
public sealed record SoftLabelTask(string Id, IReadOnlyList<SoftLabelExample> Examples)
{
    /// <summary>
    /// Builds a task from the verifier's own distributions (at <paramref name="temperature"/>, the run's) after every
    /// prefix of every text: the soft labels of s-CDF. For a text of n bytes that gives n examples (after its first 1..n bytes).
    /// </summary>
    public static SoftLabelTask FromVerifier(string id, DemoModel verifier, IEnumerable<string> texts, double temperature = 1.0)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(texts);
        const int v = DemoModelConfig.VocabularySize;
        var examples = new List<SoftLabelExample>();
        var logProbabilities = new double[v];
        foreach (var text in texts)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            var logits = verifier.ForwardAll(bytes);
            for (var t = 0; t < bytes.Length; t++)
            {
                examples.Add(new SoftLabelExample(bytes[..(t + 1)], Distribution(logits.AsSpan(t * v, v), logProbabilities, temperature)));
            }
        }

        return new SoftLabelTask(id, examples);
    }

    /// <summary>The softmax of <paramref name="logits"/> at <paramref name="temperature"/> as a soft label; <paramref name="logP"/> is scratch of the same length.</summary>
    internal static float[] Distribution(ReadOnlySpan<float> logits, double[] logP, double temperature = 1.0)
    {
        DemoEvaluation.LogSoftmax(logits, temperature, logP);
        var p = new float[logP.Length];
        for (var x = 0; x < p.Length; x++)
        {
            p[x] = (float)Math.Exp(logP[x]);
        }

        return p;
    }
}

/// <summary>Settings of drafter fine-tuning on soft labels.</summary>
public sealed record FineTuneOptions
{
    /// <summary>Minibatch steps. Default 500.</summary>
    [JsonPropertyName("steps")]
    public int Steps { get; init; } = 500;

    /// <summary>Examples per step, all from one sampled task. Default 32.</summary>
    [JsonPropertyName("batchSize")]
    public int BatchSize { get; init; } = 32;

    /// <summary>Adam learning rate (constant; Adam moments start from zero). Default 0.001.</summary>
    [JsonPropertyName("learningRate")]
    public float LearningRate { get; init; } = 0.001f;

    /// <summary>Steps between calls of the reweight callback (K of s-CDF). Default 50.</summary>
    [JsonPropertyName("reweightEvery")]
    public int ReweightEvery { get; init; } = 50;

    /// <summary>Seed of task and example sampling. Default 1.</summary>
    [JsonPropertyName("seed")]
    public int Seed { get; init; } = 1;

    /// <summary>Gradient shards per batch (see <see cref="DemoTrainingOptions.Shards"/>). Default 2.</summary>
    [JsonPropertyName("shards")]
    public int Shards { get; init; } = 2;
}

/// <summary>Outcome of <see cref="DrafterTrainer.FineTune"/>.</summary>
/// <param name="Weights">The fine-tuned drafter (a new object; the input is unchanged).</param>
/// <param name="StepsPerTask">How many steps sampled each task.</param>
/// <param name="MeanLoss">Mean soft-label cross-entropy over all steps (nats), before each step's update.</param>
/// <param name="FinalTaskWeights">Task weights in force at the end (after the last reweight).</param>
public sealed record FineTuneResult(
    DemoModelWeights Weights,
    IReadOnlyList<int> StepsPerTask,
    double MeanLoss,
    IReadOnlyList<double> FinalTaskWeights);

/// <summary>Continues training a drafter against verifier distributions (the mitigation's inner loop).</summary>
public static class DrafterTrainer
{
    /// <summary>Salt of the MLP family's task and batch sampling stream (see <see cref="IFineTunableDrafter.SamplingStream"/>).</summary>
    internal const ulong SamplingStream = 0xF1E7A000UL;

    /// <summary>
    /// Fine-tunes a copy of <paramref name="drafter"/>: each step draws a task with probability proportional to its
    /// weight, a minibatch of that task's examples uniformly, and steps on −Σ_x p(x) log q(x). Every
    /// <see cref="FineTuneOptions.ReweightEvery"/> steps, <paramref name="reweight"/> (if given) is called with the
    /// number of steps done and returns new task weights (e.g. re-estimated from D_T). Deterministic for the seed.
    /// </summary>
    public static FineTuneResult FineTune(
        DemoModelWeights drafter,
        IReadOnlyList<SoftLabelTask> tasks,
        IReadOnlyList<double> taskWeights,
        FineTuneOptions options,
        Func<int, IReadOnlyList<double>>? reweight = null,
        CancellationToken cancellationToken = default) =>
        FineTune(drafter, tasks, taskWeights, options, reweight is null ? null : (step, _) => reweight(step), cancellationToken);

    /// <summary>
    /// As <see cref="FineTune(DemoModelWeights, IReadOnlyList{SoftLabelTask}, IReadOnlyList{double}, FineTuneOptions, Func{int, IReadOnlyList{double}}?, CancellationToken)"/>,
    /// but the reweight callback also sees the drafter being trained (read it, do not change it), so it can re-estimate
    /// D_T on held-out prompts every K steps — the s-CDF loop.
    /// </summary>
    public static FineTuneResult FineTune(
        DemoModelWeights drafter,
        IReadOnlyList<SoftLabelTask> tasks,
        IReadOnlyList<double> taskWeights,
        FineTuneOptions options,
        Func<int, DemoModelWeights, IReadOnlyList<double>>? reweight,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(drafter);
        ArgumentNullException.ThrowIfNull(tasks);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Steps < 0 || options.BatchSize < 1 || options.ReweightEvery < 1 || !(options.LearningRate > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Fine-tune options need steps ≥ 0, batch size ≥ 1, reweightEvery ≥ 1 and a positive learning rate.");
        }

        if (tasks.Count == 0)
        {
            throw new ArgumentException("Fine-tuning needs at least one task.", nameof(tasks));
        }

        foreach (var task in tasks)
        {
            ValidateTask(task);
        }

        ValidateWeights(taskWeights, tasks, "taskWeights");
        var weights = drafter.Clone();
        var stepper = new SoftLabelStepper(weights, options.BatchSize, options.Shards);
        double lossSum = 0;
        var run = DrafterMitigation.FineTune(
            options.Steps,
            options.BatchSize,
            options.ReweightEvery,
            SamplingStream ^ (ulong)(uint)options.Seed,
            taskWeights,
            t => tasks[t].Examples.Count,
            (t, batch) => lossSum += stepper.Step(tasks[t], batch, options.LearningRate),
            reweight is null ? null : step =>
            {
                var updated = reweight(step, weights) ?? throw new InvalidOperationException("The reweight callback returned null.");
                ValidateWeights(updated, tasks, "reweight result");
                return updated;
            },
            cancellationToken);
        return new FineTuneResult(weights, run.StepsPerTask, options.Steps == 0 ? 0 : lossSum / options.Steps, run.FinalTaskWeights);
    }

    /// <summary>Mean soft-label cross-entropy −Σ p log q of <paramref name="drafter"/> on a task's examples (nats).</summary>
    public static double CrossEntropy(DemoModelWeights drafter, SoftLabelTask task) => Agreement(drafter, task, alpha: false).CrossEntropy;

    /// <summary>
    /// One drafter forward pass per example: mean α(s) = Σ min(p, q) (only when <paramref name="alpha"/>: it costs an
    /// exponential per token; NaN otherwise) and mean −Σ p log q (nats), as <see cref="DemoEvaluation.Compare"/>.
    /// </summary>
    public static (double Alpha, double CrossEntropy) Agreement(DemoModelWeights drafter, SoftLabelTask task, bool alpha)
    {
        ArgumentNullException.ThrowIfNull(drafter);
        ValidateTask(task);
        var model = new DemoModel(drafter);
        const int v = DemoModelConfig.VocabularySize;
        var logits = new float[v];
        var logQ = new double[v];
        double alphaTotal = 0, crossEntropyTotal = 0;
        foreach (var example in task.Examples)
        {
            model.Forward(example.Context, logits);
            DemoEvaluation.LogSoftmax(logits, 1.0, logQ);
            for (var x = 0; x < v; x++)
            {
                crossEntropyTotal -= example.Target[x] * logQ[x];
                if (alpha)
                {
                    alphaTotal += Math.Min(example.Target[x], Math.Exp(logQ[x]));
                }
            }
        }

        return (alpha ? alphaTotal / task.Examples.Count : double.NaN, crossEntropyTotal / task.Examples.Count);
    }

    private static void ValidateTask(SoftLabelTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.Examples is null || task.Examples.Count == 0)
        {
            throw new ArgumentException($"Soft-label task '{task.Id}' has no examples.", nameof(task));
        }

        foreach (var example in task.Examples)
        {
            if (example.Target is null || example.Target.Length != DemoModelConfig.VocabularySize)
            {
                throw new ArgumentException($"Soft-label task '{task.Id}': every target needs {DemoModelConfig.VocabularySize} probabilities.", nameof(task));
            }

            if (example.Context is null)
            {
                throw new ArgumentException($"Soft-label task '{task.Id}': an example has no context.", nameof(task));
            }
        }
    }

    // Task weights must be finite, non-negative and not all zero; the messages name the task.
    private static void ValidateWeights(IReadOnlyList<double> weights, IReadOnlyList<SoftLabelTask> tasks, string what)
    {
        ArgumentNullException.ThrowIfNull(weights, what);
        if (weights.Count != tasks.Count)
        {
            throw new ArgumentException($"{what} has {weights.Count} weights for {tasks.Count} tasks.", what);
        }

        double total = 0;
        for (var i = 0; i < weights.Count; i++)
        {
            if (!(weights[i] >= 0) || !double.IsFinite(weights[i]))
            {
                throw new ArgumentException($"{what}: weight of task '{tasks[i].Id}' must be finite and non-negative, got {weights[i]}.", what);
            }

            total += weights[i];
        }

        if (!(total > 0))
        {
            throw new ArgumentException($"{what}: all task weights are zero.", what);
        }
    }
}

/// <summary>One Adam step of an MLP drafter on a batch of soft-label examples: the MLP family's inner step, shared by
/// <see cref="DrafterTrainer.FineTune(DemoModelWeights, IReadOnlyList{SoftLabelTask}, IReadOnlyList{double}, FineTuneOptions, Func{int, DemoModelWeights, IReadOnlyList{double}}?, CancellationToken)"/>
/// and <see cref="MlpFineTunableDrafter"/>.</summary>
internal sealed class SoftLabelStepper(DemoModelWeights weights, int batchSize, int shards)
{
    private readonly MlpOptimizer _optimizer = new(weights, batchSize, Math.Min(shards, batchSize));
    private readonly int[] _windows = new int[batchSize * weights.Config.Window];
    private readonly float[] _targets = new float[batchSize * DemoModelConfig.VocabularySize];

    /// <summary>Steps on −Σ_x p(x) log q(x) over <paramref name="batch"/> (indices into the task's examples); returns the loss before the update.</summary>
    public double Step(SoftLabelTask task, ReadOnlySpan<int> batch, float learningRate)
    {
        var window = weights.Config.Window;
        const int v = DemoModelConfig.VocabularySize;
        for (var i = 0; i < batch.Length; i++)
        {
            var example = task.Examples[batch[i]];
            MlpWorkspace.FillWindow(example.Context, _windows.AsSpan(i * window, window));
            example.Target.CopyTo(_targets, i * v);
        }

        return _optimizer.Step(_windows, null, _targets, learningRate);
    }
}
