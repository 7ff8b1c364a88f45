namespace SpecFunctions.Core.Mitigation.Training;

/// <summary>
/// One model family's part of a drafter mitigation: everything <see cref="DrafterMitigation"/> cannot do without knowing
/// the network. An instance holds the (read-only) verifier and the drafter being changed; the loop calls
/// <see cref="SetHeldOut"/> first, then the measurements, and for the training strategies <see cref="AddCorrectiveData"/>
/// once per task, in task order (the n-th call builds task n), before the first <see cref="Step"/>.
/// </summary>
public interface IFineTunableDrafter : IDisposable
{
    /// <summary>
    /// Salt of the task and batch sampling stream: the loop draws from <c>DeterministicRandom(SamplingStream ^ seed)</c>.
    /// Per family, and part of its numbers: changing it changes every fine-tuned drafter.
    /// </summary>
    ulong SamplingStream { get; }

    /// <summary>What one batch row is, for the notes ("prefixes", "sequences").</summary>
    string BatchUnit { get; }

    /// <summary>
    /// Caches, per task in task order, the verifier's next-token distributions at <paramref name="temperature"/> (the
    /// run's) on every prefix of its dev prompts (all non-empty; every task has at least one). The held-out estimates are
    /// taken on them.
    /// </summary>
    void SetHeldOut(IReadOnlyList<IReadOnlyList<string>> prompts, double temperature);

    /// <summary>
    /// Per task: held-out mean α(s) = Σ min(p, q) (NaN unless <paramref name="alpha"/>; it may cost extra) and mean
    /// D_T = −Σ p log q of the current drafter with its logits divided by <paramref name="temperature"/>.
    /// </summary>
    IReadOnlyList<(double Alpha, double CrossEntropy)> MeasureHeldOut(double temperature, bool alpha);

    /// <summary>
    /// Builds the corrective data of the next task (soft labels: the verifier's continuations of <paramref name="prompts"/>
    /// sampled at <see cref="MitigationOptions.Temperature"/>, every prefix labelled with the verifier's distribution at
    /// that temperature). Returns its prefix count.
    /// </summary>
    int AddCorrectiveData(string id, IReadOnlyList<string> prompts, MitigationOptions options, int seed);

    /// <summary>Rows a batch of task <paramref name="task"/> is drawn from (uniformly, with repeats).</summary>
    int BatchRows(int task);

    /// <summary>One optimiser step on the rows <paramref name="batch"/> of task <paramref name="task"/>'s corrective data.</summary>
    void Step(int task, ReadOnlySpan<int> batch, MitigationOptions options);

    /// <summary>Bakes 1/τ into the drafter's output layer (a drafter-only temperature in an ordinary model folder).</summary>
    void ApplyTemperature(double temperature);

    /// <summary>Writes the current drafter as a complete model folder with the base drafter's manifest.</summary>
    void Save(string folder);
}
