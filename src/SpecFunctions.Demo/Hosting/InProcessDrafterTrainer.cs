using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Demo.Pairs;

namespace SpecFunctions.Demo.Hosting;

/// <summary>
/// What both demo families' in-process trainers share: the family check, the run of <see cref="DrafterMitigation"/> on
/// the family's <see cref="IFineTunableDrafter"/>, and the new drafter folder, assembled under a staging name and renamed
/// last (<see cref="StagedFolders"/>), so a cancelled or failed run leaves none. The verifier and base drafter folders are
/// only read. A subclass opens its family's drafter and nothing else.
/// </summary>
/// <param name="supportedFamily">The model family (manifest <c>family</c>) the trainer serves, compared ordinally.</param>
/// <param name="options">The mitigation's hyperparameters.</param>
public abstract class InProcessDrafterTrainer(string supportedFamily, MitigationOptions options) : IDrafterTrainer
{
    /// <summary>The hyperparameters this trainer runs with.</summary>
    public MitigationOptions Options { get; } = options ?? throw new ArgumentNullException(nameof(options));

    /// <inheritdoc/>
    public bool Supports(string family) => string.Equals(family, supportedFamily, StringComparison.Ordinal);

    /// <summary>Writes the new drafter to <c>outputFolder/drafter</c> (complete or absent) and returns that folder.</summary>
    public Task<string> TrainAsync(DrafterTrainingJob job, string outputFolder, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        return Task.Run(() => TrainToFolder(job, outputFolder, progress, cancellationToken).Folder, cancellationToken);
    }

    /// <summary>
    /// Runs the job's strategy and writes the new drafter as the complete model folder <c>outputFolder/drafter</c>
    /// (refused when that folder exists, before anything is loaded). Returns the folder and the result.
    /// </summary>
    public (string Folder, DrafterMitigationResult Result) TrainToFolder(
        DrafterTrainingJob job, string outputFolder, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        var parent = Path.GetFullPath(outputFolder);
        var target = Path.Combine(parent, DrafterMitigation.OutputFolderName);
        if (Directory.Exists(target))
        {
            throw new IOException($"The output folder '{target}' already exists; a mitigation writes a new drafter folder only.");
        }

        using var drafter = Open(job.VerifierFolder, job.DrafterFolder);
        // The run's sampling temperature (greedy: 1, where D_T is defined) governs labels, loss and D_T.
        var options = Options with { Temperature = job.Temperature > 0 ? job.Temperature : 1 };
        var result = DrafterMitigation.Run(drafter, job.Strategy, job.WeightRule, job.Tasks, job.Seed, options, progress, cancellationToken);
        StagedFolders.WriteNew(parent, DrafterMitigation.OutputFolderName, drafter.Save, cancellationToken);
        progress?.Report(result.Notes);
        WriteFiles(drafter, parent);
        return (target, result);
    }

    /// <summary>Loads the verifier and the base drafter of the job's folders as the family's fine-tunable drafter.</summary>
    protected abstract IFineTunableDrafter Open(string verifierFolder, string drafterFolder);

    /// <summary>Writes what the family leaves beside the new drafter (<see cref="DrafterTrainerFiles"/>); nothing by default.</summary>
    protected virtual void WriteFiles(IFineTunableDrafter drafter, string outputFolder)
    {
    }
}
