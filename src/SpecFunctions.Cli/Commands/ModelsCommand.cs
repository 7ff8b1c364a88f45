using System.CommandLine;
using SpecFunctions.Cli.Pairs;
using SpecFunctions.Demo;

namespace SpecFunctions.Cli.Commands;

/// <summary>
/// <c>specfn models demo [--kind mlp|transformer] [--out DIR] [--seed N]</c>: builds (or reuses) a built-in demo model pair: the
/// byte-level MLP pair (default) or the transformer pair (BPE tokenizer, decoder-with-past ONNX, genai_config.json).
/// </summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var command = new Command("models", "Manage model folders.");
        command.Subcommands.Add(CreateDemo());
        command.Subcommands.Add(ModelsInspectCommand.Create());
        return command;
    }

    private static Command CreateDemo()
    {
        var kindOption = new Option<string>("--kind")
        {
            Description = $"Which pair: {DemoPairs.Mlp.Kind} (byte-level MLP window models, the fast default) or {DemoPairs.Transformer.Kind} (GPT-style decoders with a trained BPE tokenizer, in the optimum / ONNX Runtime GenAI layout).",
            DefaultValueFactory = _ => DemoPairs.Mlp.Kind,
        };
        kindOption.AcceptOnlyFromAmong(DemoPairs.Kinds);
        var outOption = new Option<string?>("--out")
        {
            Description = $"Root folder; the models go to DIR/verifier and DIR/drafter, the suite to DIR/suite.json. Default {string.Join(" or ", DemoPairs.All.Select(p => $"{p.DefaultRoot} ({p.Kind})"))}.",
        };
        var seedOption = new Option<int>("--seed")
        {
            Description = "Training seed; the same seed gives byte-identical models.",
            DefaultValueFactory = _ => DemoModels.DefaultSeed,
        };
        var command = new Command(
            "demo",
            "Train a built-in demo pair (a verifier on 6 languages and a drafter trained mostly on English and Spanish) and write them as ONNX model folders; reused when already built for the same inputs.")
        {
            kindOption,
            outOption,
            seedOption,
        };
        command.SetAction((parseResult, cancellationToken) =>
        {
            var pair = DemoPairs.Get(parseResult.GetValue(kindOption)!);
            var outDir = parseResult.GetValue(outOption) ?? pair.DefaultRoot;
            return RunAsync(pair, outDir, parseResult.GetValue(seedOption), Console.Out, Console.Error, cancellationToken);
        });
        return command;
    }

    internal static Task<int> RunAsync(IDemoPair pair, string outDir, int seed, TextWriter output, TextWriter error, CancellationToken cancellationToken) =>
        GuardedAsync(outDir, error, async () =>
        {
            await output.WriteLineAsync($"{pair.Title} (seed {seed}) in {Path.GetFullPath(outDir)}").ConfigureAwait(false);
            var progress = new SynchronousProgress<DemoTrainingProgress>(p => output.WriteLine(pair.ProgressLine(p)));
            var built = await pair.EnsureAsync(outDir, seed, progress, cancellationToken).ConfigureAwait(false);
            await WriteSummaryAsync(output, outDir, built.Reused, built.CacheKey, built.Trained, built.VerifierLine, built.DrafterLine).ConfigureAwait(false);
        });

    // Checks --out, runs the body and turns cancellation and file-system failures into one line and an exit code.
    private static async Task<int> GuardedAsync(string outDir, TextWriter error, Func<Task> body)
    {
        if (string.IsNullOrWhiteSpace(outDir))
        {
            await error.WriteLineAsync("specfn models demo: --out must name a folder.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        try
        {
            await body().ConfigureAwait(false);
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("specfn models demo: cancelled.").ConfigureAwait(false);
            return ExitCodes.Cancelled;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            await error.WriteLineAsync($"specfn models demo: {e.Message}").ConfigureAwait(false);
            return ExitCodes.Failure;
        }
    }

    // Writes the suite file beside the models and the closing lines.
    private static async Task WriteSummaryAsync(TextWriter output, string outDir, bool reused, string cacheKey, string trained, string verifier, string drafter)
    {
        var suitePath = Path.Combine(Path.GetFullPath(outDir), "suite.json");
        DemoCorpus.WriteSuite(suitePath);
        await output.WriteLineAsync(reused
            ? $"Reused cached models (key {cacheKey[..12]}): inputs unchanged, nothing trained."
            : $"{trained} (key {cacheKey[..12]}).").ConfigureAwait(false);
        await output.WriteLineAsync($"  verifier: {verifier}").ConfigureAwait(false);
        await output.WriteLineAsync($"  drafter:  {drafter}").ConfigureAwait(false);
        await output.WriteLineAsync($"  suite:    {suitePath}").ConfigureAwait(false);
    }

    /// <summary>Reports on the training thread, so lines appear in order and before the command returns.</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
