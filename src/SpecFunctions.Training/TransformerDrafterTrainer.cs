using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Demo.Hosting;

namespace SpecFunctions.Training;

/// <summary>
/// Trains a new transformer drafter (family <c>specfn-transformer</c>) in process with <see cref="DrafterMitigation"/> on a
/// <see cref="TransformerFineTunableDrafter"/>: s-CDF, data balancing, drafter temperature tuning or none (hyperparameters:
/// <see cref="MitigationOptions.Transformer"/>). The orchestration stores the result content-addressed, re-evaluates it
/// and applies the promotion rule, as for the MLP pair.
/// </summary>
public sealed class TransformerDrafterTrainer : InProcessDrafterTrainer
{
    /// <summary>Uses the documented default hyperparameters.</summary>
    public TransformerDrafterTrainer()
        : this(MitigationOptions.Transformer)
    {
    }

    /// <summary>Uses <paramref name="options"/> (tests and experiments).</summary>
    public TransformerDrafterTrainer(MitigationOptions options)
        : base(TransformerModels.Family, options)
    {
    }

    /// <inheritdoc/>
    protected override IFineTunableDrafter Open(string verifierFolder, string drafterFolder) => TransformerFineTunableDrafter.Open(verifierFolder, drafterFolder);
}
