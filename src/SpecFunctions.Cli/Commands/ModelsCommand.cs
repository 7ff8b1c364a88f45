using System.CommandLine;
using SpecFunctions.Demo;

namespace SpecFunctions.Cli.Commands;

/// <summary><c>specfn models demo [--out DIR] [--seed N]</c>: builds (or reuses) the built-in demo model pair.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var command = new Command("models", "Manage model folders.");
        command.Subcommands.Add(CreateDemo());
        return command;
    }

    private static Command CreateDemo()
    {
        var outOption = new Option<string>("--out")
        {
            Description = "Root folder; the models go to DIR/verifier and DIR/drafter, the suite to DIR/suite.json.",
            DefaultValueFactory = _ => DemoModels.DefaultRoot,
        };
        var seedOption = new Option<int>("--seed")
        {
            Description = "Training seed; the same seed gives byte-identical models.",
            DefaultValueFactory = _ => DemoModels.DefaultSeed,
        };
        var command = new Command(
            "demo",
            "Train the built-in demo pair (a byte-level verifier on 6 languages and a drafter trained mostly on English and Spanish) and write them as ONNX model folders; reused when already built for the same inputs.")
        {
            outOption,
            seedOption,
        };
        command.SetAction((parseResult, cancellationToken) =>
            RunAsync(parseResult.GetValue(outOption)!, parseResult.GetValue(seedOption), Console.Out, Console.Error, cancellationToken));
        return command;
    }

    internal static async Task<int> RunAsync(string outDir, int seed, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(outDir))
        {
            await error.WriteLineAsync("specfn models demo: --out must name a folder.").ConfigureAwait(false);
            return 2;
        }

        try
        {
            await output.WriteLineAsync($"Demo models (seed {seed}) in {Path.GetFullPath(outDir)}").ConfigureAwait(false);
            var progress = new SynchronousProgress<DemoTrainingProgress>(p =>
                output.WriteLine($"  {p.Model,-14} step {p.Step,5}/{p.TotalSteps}  loss {p.Loss:F3} nats/byte  {p.Elapsed.TotalSeconds,6:F1} s"));
            var paths = await DemoModels.EnsureAsync(outDir, seed, progress, cancellationToken).ConfigureAwait(false);
            var suitePath = Path.Combine(Path.GetFullPath(outDir), "suite.json");
            DemoCorpus.WriteSuite(suitePath);
            await output.WriteLineAsync(paths.Reused
                ? $"Reused cached models (key {paths.CacheKey[..12]}): inputs unchanged, nothing trained."
                : $"Trained verifier in {paths.VerifierTrainingTime.TotalSeconds:F1} s and drafter in {paths.DrafterTrainingTime.TotalSeconds:F1} s (key {paths.CacheKey[..12]}).").ConfigureAwait(false);
            await output.WriteLineAsync($"  verifier: {paths.VerifierDirectory}").ConfigureAwait(false);
            await output.WriteLineAsync($"  drafter:  {paths.DrafterDirectory}").ConfigureAwait(false);
            await output.WriteLineAsync($"  suite:    {suitePath}").ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("specfn models demo: cancelled.").ConfigureAwait(false);
            return 130;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            await error.WriteLineAsync($"specfn models demo: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>Reports on the training thread, so lines appear in order and before the command returns.</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
