using SpecFunctions.Demo;

namespace SpecFunctions.Orchestration.Demo;

/// <summary>
/// Trains a new demo drafter (family <c>specfn-demo</c>) in process with <see cref="DemoMitigation"/>: s-CDF,
/// data balancing, drafter temperature tuning or none (hyperparameters: SpecFunctions.Demo README, "Mitigation").
/// The verifier and base drafter folders are only read. Deterministic for the job's seed.
/// </summary>
public sealed class DemoDrafterTrainer : IDrafterTrainer
{
    private readonly DemoMitigationOptions _options;

    /// <summary>Uses the documented default hyperparameters.</summary>
    public DemoDrafterTrainer()
        : this(new DemoMitigationOptions())
    {
    }

    /// <summary>Uses <paramref name="options"/> (tests and experiments).</summary>
    public DemoDrafterTrainer(DemoMitigationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <inheritdoc/>
    public bool Supports(string family) => string.Equals(family, DemoModels.Family, StringComparison.Ordinal);

    /// <summary>
    /// Writes the new drafter to <c>outputFolder/drafter</c> and returns that folder. The folder appears only when it
    /// is complete (assembled under a staging name, renamed last); a cancelled or failed run leaves none.
    /// </summary>
    public Task<string> TrainAsync(DrafterTrainingJob job, string outputFolder, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        var tasks = job.Tasks.Select(t => new DemoMitigationTask(t.Id, t.CrossEntropy, t.TrainingPrompts, t.HeldOutPrompts)).ToArray();
        return Task.Run(
            () => DemoMitigation.TrainToFolder(
                job.VerifierFolder, job.DrafterFolder, job.Strategy, job.WeightRule, tasks, job.Seed, outputFolder, _options, progress, cancellationToken).Folder,
            cancellationToken);
    }
}
