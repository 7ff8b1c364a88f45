using SpecFunctions.Demo;
using SpecFunctions.Training;

namespace SpecFunctions.Cli.Pairs;

/// <summary>The GPT-style transformer pair with a trained BPE tokenizer (<see cref="TransformerModels"/>).</summary>
internal sealed class TransformerPair : IDemoPair
{
    public string Kind => "transformer";

    public string DefaultRoot => TransformerModels.DefaultRoot;

    public string VerifierName => "tf-verifier";

    public string DrafterName => "tf-drafter";

    // About 10× slower per token than the MLP pair on 2 cores.
    public int DefaultPromptsPerTask => 8;

    public string Title => "Transformer demo models";

    public string ProgressLine(DemoTrainingProgress p) => p.Model == "tokenizer"
        ? $"  {"tokenizer",-14} byte-level BPE trained  {p.Elapsed.TotalSeconds,6:F1} s"
        : $"  {p.Model,-14} step {p.Step,5}/{p.TotalSteps}  loss {p.Loss:F3} nats/token  {p.Elapsed.TotalSeconds,6:F1} s";

    public async Task<DemoPairFolders> EnsureAsync(string root, int seed, IProgress<DemoTrainingProgress>? progress, CancellationToken cancellationToken)
    {
        var t = await TransformerModels.EnsureAsync(root, seed, progress, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new DemoPairFolders(
            t.VerifierDirectory,
            t.DrafterDirectory,
            t.CacheKey,
            t.Reused,
            $"Trained tokenizer in {t.TokenizerTrainingTime.TotalSeconds:F1} s, verifier in {t.VerifierTrainingTime.TotalSeconds:F1} s and drafter in {t.DrafterTrainingTime.TotalSeconds:F1} s",
            $"  trained tokenizer in {t.TokenizerTrainingTime.TotalSeconds:F1} s, verifier ({t.VerifierParameters:N0} parameters) in {t.VerifierTrainingTime.TotalSeconds:F1} s, drafter ({t.DrafterParameters:N0}) in {t.DrafterTrainingTime.TotalSeconds:F1} s",
            $"{t.VerifierDirectory} ({t.VerifierParameters:N0} parameters)",
            $"{t.DrafterDirectory} ({t.DrafterParameters:N0} parameters)");
    }
}
