namespace SpecFunctions.Core.Mitigation.Training;

/// <summary>Trains a new drafter in process for the model families it supports.</summary>
public interface IDrafterTrainer
{
    bool Supports(string family);

    /// <summary>Writes a new drafter model folder to <paramref name="outputFolder"/>; the verifier is read-only.</summary>
    Task<string> TrainAsync(DrafterTrainingJob job, string outputFolder, IProgress<string>? progress, CancellationToken cancellationToken);
}
