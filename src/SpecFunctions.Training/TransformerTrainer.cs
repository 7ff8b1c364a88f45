using System.Diagnostics;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Demo;
using SpecFunctions.OnnxGraphs;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SpecFunctions.Training;

/// <summary>Settings of one <see cref="TransformerTrainer"/> run.</summary>
public sealed record TransformerTrainingOptions
{
    /// <summary>Optimizer steps. Default 300.</summary>
    public int Steps { get; init; } = 300;

    /// <summary>Windows per step. Default 16.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Tokens per training window (at most the model's positions). Default 64.</summary>
    public int Context { get; init; } = 64;

    /// <summary>Peak AdamW learning rate (linear warm-up over <see cref="WarmupSteps"/>, then cosine decay to a tenth). Default 3e-3.</summary>
    public double LearningRate { get; init; } = 3e-3;

    /// <summary>Default 20.</summary>
    public int WarmupSteps { get; init; } = 20;

    /// <summary>AdamW weight decay. Default 0.01.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Share of windows per language; languages not named get none. Null: every language equally.</summary>
    public IReadOnlyDictionary<string, double>? LanguageMix { get; init; }

    /// <summary>Progress is reported every this many steps (and at the last). Default 25.</summary>
    public int ReportEvery { get; init; } = 25;
}

/// <summary>
/// Trains <see cref="TorchTransformer"/> models with TorchSharp (LibTorch, CPU) on token streams: from scratch on next-token
/// cross-entropy, or distilled from a teacher (the verifier's full next-token distributions as soft labels). Deterministic
/// for (seed, config, options, data) on a given machine and thread count.
/// </summary>
public static class TransformerTrainer
{
    /// <summary>
    /// Trains a model of shape <paramref name="config"/> from random weights drawn from <paramref name="seed"/>. With a
    /// <paramref name="teacher"/>, the loss is the cross-entropy to the teacher's next-token distribution
    /// (<c>−Σ_x p(x|s) log q(x|s)</c>), otherwise to the next token.
    /// </summary>
    /// <param name="streams">Per language, its token stream (documents with end-of-text between them).</param>
    internal static TorchTransformer Train(
        string name,
        TinyTransformerConfig config,
        IReadOnlyDictionary<string, int[]> streams,
        TransformerTrainingOptions options,
        long seed,
        TorchTransformer? teacher = null,
        IProgress<DemoTrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var model = new TorchTransformer(config, seed);
        Fit(name, model, options, (batch, inputs, targets) =>
        {
            var logits = model.forward(inputs);
            if (teacher is null)
            {
                return F.cross_entropy(logits.view(-1, config.VocabularySize), targets.view(-1));
            }

            using var soft = TeacherProbabilities(teacher, inputs);
            return -(soft * F.log_softmax(logits, -1)).sum(-1).mean();
        }, new WindowSampler(streams, options, seed), progress, cancellationToken);
        return model;
    }

    /// <summary>
    /// Runs <see cref="TransformerTrainingOptions.Steps"/> AdamW steps on <paramref name="model"/>'s parameters; the loss of a
    /// step comes from <paramref name="loss"/> on a batch drawn by <paramref name="sampler"/>.
    /// </summary>
    internal static void Fit(
        string name,
        TorchTransformer model,
        TransformerTrainingOptions options,
        Func<int, Tensor, Tensor, Tensor> loss,
        WindowSampler sampler,
        IProgress<DemoTrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Steps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        if (options.Context < 2 || options.Context > model.Config.MaxPositions)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Context, $"Context must be in 2..{model.Config.MaxPositions}.");
        }

        var stopwatch = Stopwatch.StartNew();
        model.train();
        using var optimizer = optim.AdamW(model.parameters(), options.LearningRate, weight_decay: options.WeightDecay);
        double lossSum = 0;
        var lossCount = 0;
        for (var step = 1; step <= options.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            foreach (var group in optimizer.ParamGroups)
            {
                group.LearningRate = LearningRate(options, step);
            }

            var (inputs, targets) = sampler.Next();
            optimizer.zero_grad();
            var value = loss(step, inputs, targets);
            value.backward();
            nn.utils.clip_grad_norm_(model.parameters(), 1.0);
            optimizer.step();
            lossSum += value.item<float>();
            lossCount++;
            if (step % Math.Max(1, options.ReportEvery) == 0 || step == options.Steps)
            {
                progress?.Report(new DemoTrainingProgress(name, step, options.Steps, lossSum / lossCount, stopwatch.Elapsed));
                lossSum = 0;
                lossCount = 0;
            }
        }

        model.eval();
    }

    /// <summary>The teacher's next-token distributions for <paramref name="inputs"/>, without gradients.</summary>
    internal static Tensor TeacherProbabilities(TorchTransformer teacher, Tensor inputs)
    {
        using var noGrad = no_grad();
        teacher.eval();
        return F.softmax(teacher.forward(inputs), -1).detach();
    }

    private static double LearningRate(TransformerTrainingOptions options, int step)
    {
        if (step <= options.WarmupSteps)
        {
            return options.LearningRate * step / Math.Max(1, options.WarmupSteps);
        }

        var progress = (double)(step - options.WarmupSteps) / Math.Max(1, options.Steps - options.WarmupSteps);
        return options.LearningRate * (0.1 + (0.9 * 0.5 * (1 + Math.Cos(Math.PI * progress))));
    }
}

/// <summary>Draws training windows: a language by the mix, then a uniformly placed window of its stream.</summary>
internal sealed class WindowSampler
{
    private readonly IReadOnlyList<int[]> _streams;
    private readonly double[] _cumulative;
    private readonly DeterministicRandom _random;
    private readonly int _batch;
    private readonly int _context;

    public WindowSampler(IReadOnlyDictionary<string, int[]> streams, TransformerTrainingOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(streams);
        var ids = streams.Keys.Order(StringComparer.Ordinal).ToList();
        var weights = ids.Select(id => options.LanguageMix is null ? 1.0 : options.LanguageMix.GetValueOrDefault(id)).ToList();
        var kept = ids.Select((id, i) => (id, w: weights[i])).Where(e => e.w > 0).ToList();
        if (kept.Count == 0)
        {
            throw new ArgumentException("The language mix gives no weight to any language with data.", nameof(options));
        }

        _streams = [.. kept.Select(e => streams[e.id])];
        foreach (var (id, _) in kept)
        {
            if (streams[id].Length <= options.Context + 1)
            {
                throw new ArgumentException($"Language '{id}' has {streams[id].Length} tokens, fewer than one training window of {options.Context + 1}.", nameof(streams));
            }
        }

        var running = 0.0;
        _cumulative = [.. kept.Select(e => running += e.w)];
        _random = new DeterministicRandom((ulong)seed * 0x9E3779B97F4A7C15UL + 17);
        _batch = options.BatchSize;
        _context = options.Context;
    }

    public (Tensor Inputs, Tensor Targets) Next()
    {
        var inputs = new long[_batch * _context];
        var targets = new long[_batch * _context];
        for (var b = 0; b < _batch; b++)
        {
            var stream = _streams[_random.NextWeighted(_cumulative)];
            var start = _random.NextInt(stream.Length - _context - 1);
            for (var i = 0; i < _context; i++)
            {
                inputs[(b * _context) + i] = stream[start + i];
                targets[(b * _context) + i] = stream[start + i + 1];
            }
        }

        return (tensor(inputs, [_batch, _context]), tensor(targets, [_batch, _context]));
    }
}
