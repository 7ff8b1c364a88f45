using System.Diagnostics;
using System.Numerics.Tensors;
using System.Text;
using System.Text.Json.Serialization;
using SpecFunctions.Core.Sampling;

namespace SpecFunctions.Demo;

/// <summary>Settings of one training run of a demo model on the corpus (hard next-byte labels).</summary>
public sealed record DemoTrainingOptions
{
    /// <summary>Minibatch steps. Default 2000.</summary>
    [JsonPropertyName("steps")]
    public int Steps { get; init; } = 2000;

    /// <summary>Examples (next-byte predictions) per step. Default 64.</summary>
    [JsonPropertyName("batchSize")]
    public int BatchSize { get; init; } = 64;

    /// <summary>Adam learning rate at the start. Default 0.002.</summary>
    [JsonPropertyName("learningRate")]
    public float LearningRate { get; init; } = 0.002f;

    /// <summary>Learning rate at the last step as a fraction of the first (linear decay). Default 0.1.</summary>
    [JsonPropertyName("finalLearningRateFraction")]
    public float FinalLearningRateFraction { get; init; } = 0.1f;

    /// <summary>
    /// Probability that each context byte other than the newest is replaced by the pad id in a training example: a
    /// regulariser against memorising long contexts of a small corpus. Default 0.
    /// </summary>
    [JsonPropertyName("contextDropout")]
    public double ContextDropout { get; init; }

    /// <summary>Decoupled (AdamW) weight decay per unit learning rate on weight matrices and table rows. Default 0.</summary>
    [JsonPropertyName("weightDecay")]
    public float WeightDecay { get; init; }

    /// <summary>
    /// Gradient shards per batch, computed in parallel and summed in order. The result depends on it (not on the
    /// number of cores). Default 2.
    /// </summary>
    [JsonPropertyName("shards")]
    public int Shards { get; init; } = 2;

    /// <summary>
    /// Share of the training examples drawn from each language (ids of the corpus; weights need not sum to 1).
    /// Null or empty: every language equally.
    /// </summary>
    [JsonPropertyName("languageMix")]
    public IReadOnlyDictionary<string, double>? LanguageMix { get; init; }

    /// <summary>Steps between progress reports (the "epochs" shown while training). Default 250.</summary>
    [JsonPropertyName("reportEvery")]
    public int ReportEvery { get; init; } = 250;

    internal void Validate()
    {
        if (Steps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "Training needs at least one step.");
        }

        if (BatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "Batch size must be at least 1.");
        }

        if (!(LearningRate > 0) || !float.IsFinite(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "Learning rate must be positive and finite.");
        }

        if (FinalLearningRateFraction is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(FinalLearningRateFraction), FinalLearningRateFraction, "Must be in [0, 1].");
        }

        if (ContextDropout is < 0 or >= 1 || double.IsNaN(ContextDropout))
        {
            throw new ArgumentOutOfRangeException(nameof(ContextDropout), ContextDropout, "Context dropout must be in [0, 1).");
        }

        if (!(WeightDecay >= 0) || !float.IsFinite(WeightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay must be finite and non-negative.");
        }

        if (ReportEvery < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ReportEvery), ReportEvery, "Must be at least 1.");
        }
    }

    internal float LearningRateAt(int step) =>
        LearningRate * (1f - (1f - FinalLearningRateFraction) * step / Math.Max(1, Steps - 1));
}

/// <summary>Progress of training a demo model.</summary>
/// <param name="Model">Model name.</param>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps planned.</param>
/// <param name="Loss">Mean training cross-entropy over the steps since the last report (nats per byte).</param>
/// <param name="Elapsed">Wall time since the start of this model's training.</param>
public sealed record DemoTrainingProgress(string Model, int Step, int TotalSteps, double Loss, TimeSpan Elapsed)
{
    /// <summary>
    /// Reports training progress to <paramref name="log"/> as a line at most every 2 seconds, and always at a model's last
    /// step: "  training MODEL: step S/T, loss L (E s)".
    /// </summary>
    public static IProgress<DemoTrainingProgress> LogTo(TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        var lastReport = DateTime.MinValue;
        return new Progress<DemoTrainingProgress>(p =>
        {
            if (DateTime.UtcNow - lastReport > TimeSpan.FromSeconds(2) || p.Step == p.TotalSteps)
            {
                lastReport = DateTime.UtcNow;
                log.WriteLine($"  training {p.Model}: step {p.Step}/{p.TotalSteps}, loss {p.Loss:F3} ({p.Elapsed.TotalSeconds:F0} s)");
            }
        });
    }
}

/// <summary>Trains demo models on the corpus with minibatch Adam and hand-written backpropagation.</summary>
public static class DemoTrainer
{
    /// <summary>
    /// Trains a model of shape <paramref name="config"/> from a random start. Deterministic for
    /// (<paramref name="seed"/>, config, options, corpus) on a given machine.
    /// </summary>
    public static DemoModelWeights Train(
        DemoModelConfig config,
        DemoCorpus corpus,
        DemoTrainingOptions options,
        int seed,
        IProgress<DemoTrainingProgress>? progress = null,
        CancellationToken cancellationToken = default) =>
        Train(config, corpus, options, seed, teacher: null, progress, cancellationToken);

    /// <summary>
    /// Trains a model of shape <paramref name="config"/> from a random start; with a <paramref name="teacher"/>, the
    /// targets are the teacher's next-byte distributions (temperature 1) at the sampled positions instead of the
    /// corpus bytes (distillation, as drafters are usually made). Deterministic for (seed, config, options, corpus,
    /// teacher) on a given machine.
    /// </summary>
    public static DemoModelWeights Train(
        DemoModelConfig config,
        DemoCorpus corpus,
        DemoTrainingOptions options,
        int seed,
        DemoModelWeights? teacher,
        IProgress<DemoTrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var weights = DemoModelWeights.CreateInitial(config, seed);
        var sampler = new CorpusSampler(corpus, options.LanguageMix);
        var optimizer = new MlpOptimizer(weights, options.BatchSize, options.Shards, options.WeightDecay);
        var random = new DeterministicRandom(0x5A3B1E00UL ^ (ulong)(uint)seed ^ ((ulong)config.Window << 40));
        var window = config.Window;
        var sampleWindow = Math.Max(window, teacher?.Config.Window ?? 0);
        var sampled = new int[options.BatchSize * sampleWindow];
        var windows = new int[options.BatchSize * window];
        var targets = new int[options.BatchSize];
        const int v = DemoModelConfig.VocabularySize;
        var teacherWorkspace = teacher is null ? null : new MlpWorkspace(teacher, options.BatchSize, withGradients: false);
        var teacherWindows = teacher is null ? [] : new int[options.BatchSize * teacher.Config.Window];
        var softTargets = teacher is null ? null : new float[options.BatchSize * v];
        var stopwatch = Stopwatch.StartNew();
        double lossSum = 0;
        var lossSteps = 0;
        for (var step = 0; step < options.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (var i = 0; i < options.BatchSize; i++)
            {
                var full = sampled.AsSpan(i * sampleWindow, sampleWindow);
                targets[i] = sampler.Sample(random, full);
                var context = windows.AsSpan(i * window, window);
                full[(sampleWindow - window)..].CopyTo(context);
                if (teacher is not null)
                {
                    full[(sampleWindow - teacher.Config.Window)..].CopyTo(teacherWindows.AsSpan(i * teacher.Config.Window, teacher.Config.Window));
                }

                if (options.ContextDropout > 0)
                {
                    for (var k = 0; k < window - 1; k++)
                    {
                        if (random.NextDouble() < options.ContextDropout)
                        {
                            context[k] = DemoModelConfig.PadId;
                        }
                    }
                }
            }

            if (teacherWorkspace is not null)
            {
                teacherWorkspace.Forward(teacherWindows, options.BatchSize);
                for (var i = 0; i < options.BatchSize; i++)
                {
                    var row = teacherWorkspace.Logits.AsSpan(i * v, v);
                    var target = softTargets.AsSpan(i * v, v);
                    TensorPrimitives.Subtract(row, TensorPrimitives.Max(row), target);
                    TensorPrimitives.Exp(target, target);
                    TensorPrimitives.Divide(target, TensorPrimitives.Sum(target), target);
                }
            }

            lossSum += optimizer.Step(windows, teacher is null ? targets : null, softTargets, options.LearningRateAt(step));
            lossSteps++;
            if ((step + 1) % options.ReportEvery == 0 || step + 1 == options.Steps)
            {
                progress?.Report(new DemoTrainingProgress(config.Name, step + 1, options.Steps, lossSum / lossSteps, stopwatch.Elapsed));
                lossSum = 0;
                lossSteps = 0;
            }
        }

        return weights;
    }
}

/// <summary>Draws (window, next byte) examples from the corpus: a language by the mix, then a position uniformly.</summary>
internal sealed class CorpusSampler
{
    private readonly byte[][] _data;
    private readonly int[][] _documentStart;
    private readonly double[] _cumulative;

    public CorpusSampler(DemoCorpus corpus, IReadOnlyDictionary<string, double>? mix)
    {
        var languages = corpus.Languages;
        if (mix is { Count: > 0 })
        {
            foreach (var (id, weight) in mix)
            {
                _ = corpus[id];
                if (!(weight >= 0) || !double.IsFinite(weight))
                {
                    throw new ArgumentException($"Language mix weight for '{id}' must be a finite non-negative number, got {weight}.", nameof(mix));
                }
            }
        }

        _data = new byte[languages.Count][];
        _documentStart = new int[languages.Count][];
        _cumulative = new double[languages.Count];
        double total = 0;
        for (var l = 0; l < languages.Count; l++)
        {
            var bytes = new List<byte>();
            var starts = new List<int>();
            foreach (var document in languages[l].TrainingDocuments)
            {
                var start = bytes.Count;
                var encoded = Encoding.UTF8.GetBytes(document + "\n");
                bytes.AddRange(encoded);
                starts.AddRange(Enumerable.Repeat(start, encoded.Length));
            }

            _data[l] = bytes.ToArray();
            _documentStart[l] = starts.ToArray();
            var weight = mix is { Count: > 0 } ? mix.GetValueOrDefault(languages[l].Id) : 1.0;
            if (_data[l].Length == 0)
            {
                weight = 0;
            }

            total += weight;
            _cumulative[l] = total;
        }

        if (!(total > 0))
        {
            throw new ArgumentException("The language mix gives no weight to any language with training text.", nameof(mix));
        }
    }

    /// <summary>Fills <paramref name="window"/> with a context (pad before the document start) and returns the next byte.</summary>
    public int Sample(DeterministicRandom random, Span<int> window)
    {
        var l = random.NextWeighted(_cumulative);
        var data = _data[l];
        var p = random.NextInt(data.Length);
        var start = _documentStart[l][p];
        var n = window.Length;
        for (var k = 0; k < n; k++)
        {
            // Row t of the model sees bytes t-N+1..t and predicts t+1; here the predicted byte is p.
            var pos = p - n + k;
            window[k] = pos >= start ? data[pos] : DemoModelConfig.PadId;
        }

        return data[p];
    }
}
