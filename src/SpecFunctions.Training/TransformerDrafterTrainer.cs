using SpecFunctions.Demo;
using SpecFunctions.Core.Mitigation.Training;

namespace SpecFunctions.Training;

/// <summary>
/// Trains a new transformer drafter (family <c>specfn-transformer</c>) in process with <see cref="TransformerMitigation"/>:
/// s-CDF, data balancing, drafter temperature tuning or none. The verifier and base drafter folders are only read; the
/// orchestration stores the result content-addressed, re-evaluates it and applies the promotion rule, as for the MLP pair.
/// </summary>
public sealed class TransformerDrafterTrainer : IDrafterTrainer
{
    private readonly TransformerMitigationOptions _options;

    /// <summary>Uses the documented default hyperparameters.</summary>
    public TransformerDrafterTrainer()
        : this(new TransformerMitigationOptions())
    {
    }

    /// <summary>Uses <paramref name="options"/> (tests and experiments).</summary>
    public TransformerDrafterTrainer(TransformerMitigationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <inheritdoc/>
    public bool Supports(string family) => string.Equals(family, TransformerModels.Family, StringComparison.Ordinal);

    /// <summary>Writes the new drafter to <c>outputFolder/drafter</c> (complete or absent) and returns that folder.</summary>
    public Task<string> TrainAsync(DrafterTrainingJob job, string outputFolder, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        var tasks = job.Tasks.Select(t => new DemoMitigationTask(t.Id, t.CrossEntropy, t.TrainingPrompts, t.HeldOutPrompts)).ToArray();
        return Task.Run(
            () => TransformerMitigation.TrainToFolder(
                job.VerifierFolder, job.DrafterFolder, job.Strategy, job.WeightRule, tasks, job.Seed, outputFolder, _options, progress, cancellationToken).Folder,
            cancellationToken);
    }
}
