namespace SpecFunctions.Core.Mitigation.Training;

/// <summary>Files an <see cref="IDrafterTrainer"/> may leave in its output folder besides the new drafter.</summary>
public static class DrafterTrainerFiles
{
    /// <summary>The corrective data (soft labels) the training used; stored with the run as <see cref="Storage.RunArtifact.CorrectiveData"/>.</summary>
    public const string CorrectiveData = "corrective-data.jsonl.gz";
}
