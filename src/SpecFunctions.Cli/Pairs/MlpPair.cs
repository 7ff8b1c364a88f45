using SpecFunctions.Demo;

namespace SpecFunctions.Cli.Pairs;

/// <summary>The byte-level MLP window pair (<see cref="DemoModels"/>): fast, the default.</summary>
internal sealed class MlpPair : IDemoPair
{
    public string Kind => "mlp";

    public string DefaultRoot => DemoModels.DefaultRoot;

    public string VerifierName => "demo-verifier";

    public string DrafterName => "demo-drafter";

    // All 20 held-out prompts: with 64-token generations the prompts' own spread of acceptance is what widens a task's
    // measured interval (docs/benchmarks.md, "Measured speed-ups that hold still").
    public int DefaultPromptsPerTask => 20;

    public string Title => "Demo models";

    public string ProgressLine(DemoTrainingProgress p) =>
        $"  {p.Model,-14} step {p.Step,5}/{p.TotalSteps}  loss {p.Loss:F3} nats/byte  {p.Elapsed.TotalSeconds,6:F1} s";

    public async Task<DemoPairFolders> EnsureAsync(string root, int seed, IProgress<DemoTrainingProgress>? progress, CancellationToken cancellationToken)
    {
        var m = await DemoModels.EnsureAsync(root, seed, progress, cancellationToken).ConfigureAwait(false);
        return new DemoPairFolders(
            m.VerifierDirectory,
            m.DrafterDirectory,
            m.CacheKey,
            m.Reused,
            $"Trained verifier in {m.VerifierTrainingTime.TotalSeconds:F1} s and drafter in {m.DrafterTrainingTime.TotalSeconds:F1} s",
            $"  trained verifier in {m.VerifierTrainingTime.TotalSeconds:F1} s, drafter in {m.DrafterTrainingTime.TotalSeconds:F1} s",
            m.VerifierDirectory,
            m.DrafterDirectory);
    }
}
