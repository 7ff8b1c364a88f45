using System.Globalization;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Sampling;

namespace SpecFunctions.Core.Mitigation.Training;

/// <summary>
/// The in-process drafter mitigation (method.md §6), written once for every model family: s-CDF (tasks sampled by
/// D_T-based weights, re-estimated every K steps on the dev prompts), data balancing (uniform task sampling, same loss),
/// drafter temperature tuning, or nothing. The loss is the cross-entropy to the verifier's soft labels on prefixes of the
/// verifier's own continuations of each task's training prompts. The family (<see cref="IFineTunableDrafter"/>) supplies
/// the network: held-out estimates, corrective data, one optimiser step, the temperature bake and the model folder. Only
/// the drafter changes; the verifier is read, never written. Deterministic for a seed (on a given machine).
/// </summary>
public static class DrafterMitigation
{
    /// <summary>Name of the folder an in-process trainer creates inside its output folder.</summary>
    public const string OutputFolderName = "drafter";

    /// <summary>
    /// Runs <paramref name="strategy"/> on <paramref name="drafter"/>: D_T re-estimates, task weights and τ are taken on
    /// each task's <see cref="MitigationTask.HeldOutPrompts"/> (the dev split), corrective data comes from its
    /// <see cref="MitigationTask.TrainingPrompts"/>, and the initial weights from its measured
    /// <see cref="MitigationTask.CrossEntropy"/>. The new drafter stays in <paramref name="drafter"/>.
    /// </summary>
    public static DrafterMitigationResult Run(
        IFineTunableDrafter drafter,
        string strategy,
        WeightRule weightRule,
        IReadOnlyList<MitigationTask> tasks,
        int seed,
        MitigationOptions options,
        IProgress<string>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(drafter);
        ArgumentNullException.ThrowIfNull(tasks);
        ArgumentNullException.ThrowIfNull(options);
        if (!MitigationStrategies.DrafterStrategies.Contains(strategy))
        {
            throw new ArgumentException($"Unknown mitigation strategy '{strategy}' (known: {string.Join(", ", MitigationStrategies.DrafterStrategies)}).", nameof(strategy));
        }

        if (tasks.Count == 0)
        {
            throw new ArgumentException("A mitigation needs at least one task.", nameof(tasks));
        }

        var heldOut = tasks.Select(t => (IReadOnlyList<string>)[.. t.HeldOutPrompts.Where(p => p.Length > 0)]).ToArray();
        for (var i = 0; i < tasks.Count; i++)
        {
            if (heldOut[i].Count == 0)
            {
                throw new ArgumentException($"Task '{tasks[i].Id}' has no held-out prompts to estimate D_T on.", nameof(tasks));
            }
        }

        // The run's temperature T: the drafter is trained and measured as q_T = softmax(z / T), which is the network
        // with 1/T baked into its output layer; the bake is undone before the drafter leaves, so the folder holds the
        // plain network whose temperature-T sampling the run will use. T = 1 touches nothing.
        var temperature = options.Temperature;
        if (!(temperature > 0) || !double.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(options), temperature, "the run's temperature must be positive and finite (greedy runs train at 1)");
        }

        drafter.SetHeldOut(heldOut, temperature);
        if (temperature != 1)
        {
            drafter.ApplyTemperature(temperature);
        }

        var before = CrossEntropies(drafter);
        progress?.Report($"held-out D_T before: {Format(before)}; U {FairnessMetrics.UnfairnessOf(before):G4}{(temperature != 1 ? $" (at the run's temperature {temperature:G4})" : "")}");
        var result = strategy switch
        {
            MitigationStrategies.None => new DrafterMitigationResult(before, before, "none: the base drafter, unchanged"),
            MitigationStrategies.Temperature => TuneTemperature(drafter, before, options, progress, cancellationToken),
            _ => FineTune(drafter, strategy, strategy == MitigationStrategies.Balanced ? WeightRule.Uniform : weightRule, tasks, before, seed, options, progress, cancellationToken),
        };
        if (temperature != 1)
        {
            drafter.ApplyTemperature(1 / temperature);
        }

        return result;
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

    /// <summary>
    /// The task-sampled training loop: each of <paramref name="steps"/> steps draws a task with probability proportional
    /// to its weight, then <paramref name="batchSize"/> rows of it uniformly (<paramref name="rows"/> of that task), and
    /// calls <paramref name="step"/> (the batch is valid during the call only). Every <paramref name="reweightEvery"/> steps,
    /// <paramref name="reweight"/> (if given) is called with the number of steps done and returns the new task weights
    /// (finite, non-negative, not all zero). All draws come from one <see cref="DeterministicRandom"/> seeded with
    /// <paramref name="stream"/>, in this order, so a seed gives the same drafter.
    /// </summary>
    public static FineTuneRun FineTune(
        int steps,
        int batchSize,
        int reweightEvery,
        ulong stream,
        IReadOnlyList<double> taskWeights,
        Func<int, int> rows,
        Action<int, int[]> step,
        Func<int, IReadOnlyList<double>>? reweight = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(taskWeights);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(step);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(reweightEvery, 1);
        var random = new DeterministicRandom(stream);
        var current = taskWeights.ToArray();
        var cumulative = Cumulative(current);
        var stepsPerTask = new int[current.Length];
        var batch = new int[batchSize];
        for (var s = 0; s < steps; s++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (reweight is not null && s > 0 && s % reweightEvery == 0)
            {
                var updated = reweight(s) ?? throw new InvalidOperationException("The reweight callback returned null.");
                if (updated.Count != current.Length)
                {
                    throw new InvalidOperationException($"The reweight callback returned {updated.Count} weights for {current.Length} tasks.");
                }

                current = [.. updated];
                cumulative = Cumulative(current);
            }

            var task = random.NextWeighted(cumulative);
            stepsPerTask[task]++;
            var n = rows(task);
            for (var i = 0; i < batch.Length; i++)
            {
                batch[i] = random.NextInt(n);
            }

            step(task, batch);
        }

        return new FineTuneRun(stepsPerTask, current);
    }

    /// <summary>
    /// The <c>temperature</c> baseline's choice: among <paramref name="grid"/>, the τ with the lowest U whose mean expected
    /// tokens per verifier call, mean f_γ(α_T), stays within <paramref name="tolerance"/> of the base drafter's
    /// <paramref name="baseTokens"/> (c does not change with τ, so this is the mean analytical speed-up): flattening the
    /// drafter always evens out D_T, by making every task worse. τ = 1 when none qualifies.
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

    private static DrafterMitigationResult TuneTemperature(
        IFineTunableDrafter drafter, double[] before, MitigationOptions options, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        // Fairest τ among those that keep mean f_γ(α_T) within SpeedupTolerance of the base drafter's.
        var baseTokens = drafter.MeasureHeldOut(1.0, alpha: true).Average(m => SpeculativeMath.ExpectedTokensPerStep(m.Alpha, options.Gamma));
        var best = ChooseTemperature(options.TemperatureGrid, before, baseTokens, options.SpeedupTolerance, tau =>
        {
            var measured = drafter.MeasureHeldOut(tau, alpha: true);
            return ([.. measured.Select(m => m.CrossEntropy)], measured.Average(m => SpeculativeMath.ExpectedTokensPerStep(m.Alpha, options.Gamma)));
        }, progress, cancellationToken);
        drafter.ApplyTemperature(best.Tau);
        return new DrafterMitigationResult(before, best.CrossEntropy, best.Notes);
    }

    private static DrafterMitigationResult FineTune(
        IFineTunableDrafter drafter,
        string strategy,
        WeightRule rule,
        IReadOnlyList<MitigationTask> tasks,
        double[] before,
        int seed,
        MitigationOptions options,
        IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        if (options.Steps < 0 || options.BatchSize < 1 || options.ReweightEvery < 1 || !(options.LearningRate > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Fine-tune options need steps ≥ 0, batch size ≥ 1, reweightEvery ≥ 1 and a positive learning rate.");
        }

        var prefixes = new int[tasks.Count];
        for (var i = 0; i < tasks.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var prompts = tasks[i].TrainingPrompts.Where(p => p.Length > 0).Take(options.PromptsPerTask).ToArray();
            if (prompts.Length == 0)
            {
                throw new ArgumentException($"Task '{tasks[i].Id}' has no training prompts.", nameof(tasks));
            }

            prefixes[i] = drafter.AddCorrectiveData(tasks[i].Id, prompts, options, seed);
        }

        var perTask = string.Join(", ", tasks.Select((t, i) => $"{t.Id} {prefixes[i]}"));
        progress?.Report($"corrective data: {perTask} prefixes");

        // Weights start from the job's measured D_T (the evaluation's, on the drafted prefixes); every K steps they are
        // re-estimated on the dev prompts, so they follow the drafter as it moves.
        var run = FineTune(
            options.Steps,
            options.BatchSize,
            options.ReweightEvery,
            drafter.SamplingStream ^ (ulong)(uint)seed,
            SamplingWeights([.. tasks.Select(t => t.CrossEntropy)], rule),
            drafter.BatchRows,
            (task, batch) => drafter.Step(task, batch, options),
            step =>
            {
                var d = CrossEntropies(drafter);
                progress?.Report($"step {step}: D_T {Format(d)}; U {FairnessMetrics.UnfairnessOf(d):G4}");
                return SamplingWeights(d, rule);
            },
            cancellationToken);
        var after = CrossEntropies(drafter);
        var notes = string.Create(
            CultureInfo.InvariantCulture,
            $"{strategy} ({rule}): {options.Steps} steps of {options.BatchSize} {drafter.BatchUnit}, lr {options.LearningRate}, K {options.ReweightEvery}; steps per task {string.Join(", ", tasks.Select((t, i) => $"{t.Id} {run.StepsPerTask[i]}"))}; prefixes per task {perTask}; final weights {Format(run.FinalTaskWeights)}; U {FairnessMetrics.UnfairnessOf(before):G4} → {FairnessMetrics.UnfairnessOf(after):G4}");
        return new DrafterMitigationResult(before, after, notes);
    }

    private static double[] CrossEntropies(IFineTunableDrafter drafter) =>
        [.. drafter.MeasureHeldOut(1.0, alpha: false).Select(m => m.CrossEntropy)];

    private static double[] Cumulative(double[] weights)
    {
        var cumulative = new double[weights.Length];
        double total = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            total += weights[i];
            cumulative[i] = total;
        }

        return cumulative;
    }

    private static string Format(IEnumerable<double> values) =>
        string.Join(" ", values.Select(d => d.ToString("F3", CultureInfo.InvariantCulture)));
}
