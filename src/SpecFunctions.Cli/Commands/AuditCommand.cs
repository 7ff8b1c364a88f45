using System.CommandLine;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Demo;
using SpecFunctions.Orchestration;
using SpecFunctions.Training;
using Spectre.Console;
using SpecFunctions.Core.Mitigation;

namespace SpecFunctions.Cli.Commands;

/// <summary>
/// <c>specfn audit</c>: the main job. Builds (or reuses) a demo model pair (<c>--pair mlp</c>, the default, or
/// <c>--pair transformer</c>), evaluates the default multilingual suite
/// on the embedded Durable engine, computes fairness and the mitigation decision, prints the table and U, and writes
/// JSON + HTML reports to <c>./.specfn/</c>. Exits non-zero when a task failed.
/// </summary>
internal static class AuditCommand
{
    public const string DefaultModels = ".specfn/models/demo";

    /// <summary>Catalog names of the transformer pair's models in runs of <c>audit --pair transformer</c>.</summary>
    public const string TransformerVerifier = "tf-verifier";

    /// <inheritdoc cref="TransformerVerifier"/>
    public const string TransformerDrafter = "tf-drafter";

    public static Command Create()
    {
        var pairKind = new Option<string>("--pair")
        {
            Description = $"Which demo pair: {PairKinds.Mlp} (byte-level MLP window models, fast) or {PairKinds.Transformer} (GPT-style decoders with a trained BPE tokenizer, KV cache)",
            DefaultValueFactory = _ => PairKinds.Mlp,
        };
        pairKind.AcceptOnlyFromAmong(PairKinds.All);
        var models = new Option<string?>("--models") { Description = $"Folder of the demo model pair (built on first use, cached by content hash). Default {DefaultModels} or {TransformerModels.DefaultRoot}" };
        var seed = new Option<int>("--model-seed") { Description = "Seed of the demo pair's training", DefaultValueFactory = _ => DemoModels.DefaultSeed };
        var promptsPerTask = new Option<int?>("--prompts-per-task")
        {
            // The MLP pair evaluates all 20 held-out prompts by default: with 64-token generations the prompts' own spread
            // of acceptance is what widens a task's measured interval (docs/benchmarks.md, "Measured speed-ups that hold
            // still"). The transformer pair, about 10× slower per token on 2 cores, keeps 8.
            Description = "Held-out prompts per language (1..64; the corpus has 20). Default 20 for the mlp pair, 8 for the transformer pair",
        };
        var output = new Option<string>("--out") { Description = "Folder for the JSON and HTML reports", DefaultValueFactory = _ => ".specfn" };
        var runId = new Option<string?>("--run-id") { Description = "Run id (default: generated)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document" };
        var strategy = new Option<string>("--strategy") { Description = "Mitigation when the fairness check fails: s-cdf | balanced | temperature | none", DefaultValueFactory = _ => MitigationStrategies.SCdf };
        strategy.AcceptOnlyFromAmong([.. MitigationStrategies.All]);
        var noMitigate = new Option<bool>("--no-mitigate") { Description = "Record the mitigation decision only" };
        var reuse = new Option<bool>("--reuse-traces") { Description = "Reuse committed traces of earlier runs with the same content key instead of measuring afresh (an audit measures by default)" };
        var settings = new SettingsOptions(ignoreEosByDefault: true);
        var store = new CliStore();
        promptsPerTask.Require(v => v is null or (>= 1 and <= 64), "--prompts-per-task must be in 1..64");

        var command = new Command("audit", "Evaluate the default multilingual suite on a demo pair: per-task speed-ups, unfairness U, mitigation decision, reports.")
        {
            pairKind, models, seed, promptsPerTask, output, runId, json, strategy, noMitigate, reuse,
        };
        settings.AddTo(command);
        store.AddTo(command);

        command.SetAction(async (parse, cancellationToken) =>
        {
            var asJson = parse.GetValue(json);
            var log = asJson ? Console.Error : Console.Out;
            var started = System.Diagnostics.Stopwatch.StartNew();
            var kind = parse.GetValue(pairKind)!;
            var root = parse.GetValue(models) ?? PairKinds.DefaultRoot(kind);
            log.WriteLine($"Preparing the {kind} demo model pair in {root} ...");
            var pair = await PreparePairAsync(kind, root, parse.GetValue(seed), DemoTrainingProgress.LogTo(log), cancellationToken);
            log.WriteLine(pair.Summary);

            var suite = DefaultSuite(parse.GetValue(promptsPerTask) ?? (parse.GetValue(pairKind) == PairKinds.Transformer ? 8 : 20));
            var catalog = new ModelCatalog(new Dictionary<string, string>
            {
                [pair.Verifier] = pair.VerifierDirectory,
                [pair.Drafter] = pair.DrafterDirectory,
            });
            var request = new EvaluationRequest
            {
                RunId = parse.GetValue(runId) ?? RunIds.New("audit"),
                Suite = suite,
                Verifier = pair.Verifier,
                Drafter = pair.Drafter,
                Settings = settings.Read(parse),
                Mitigation = new MitigationPolicy { AutoMitigate = !parse.GetValue(noMitigate), Strategy = parse.GetValue(strategy)! },
                MeasureAfresh = !parse.GetValue(reuse),
            };

            var traceStore = store.Open(parse);
            var result = await EvaluationRunner.RunAsync(request, traceStore, catalog, asJson, cancellationToken, parse.GetValue(settings.MaxConcurrentTasks));
            string? htmlPath = null;
            if (result.Report is not null)
            {
                (_, htmlPath) = await EvaluationRunner.SaveAsync(traceStore, result.Report, parse.GetValue(output)!, cancellationToken);
            }

            var exit = EvaluationRunner.Print(result, asJson, new Dictionary<string, object?>
            {
                ["totalSeconds"] = started.Elapsed.TotalSeconds,
                ["pair"] = kind,
                ["modelsReused"] = pair.Reused,
                ["mitigation"] = result.Report?.Mitigation,
                ["mitigationOutcome"] = result.Outcome.Mitigation is { } m ? new { m.Status, m.Reason, m.AfterRunId } : null,
            });
            if (!asJson)
            {
                AnsiConsole.MarkupLine($"Report: [link]{Markup.Escape(htmlPath ?? "(none)")}[/]  (store {Markup.Escape(traceStore.Location)}, {started.Elapsed.TotalSeconds:F1} s)");
            }

            return exit;
        });
        return command;
    }

    /// <summary>A prepared demo pair: catalog names, folders and a one-line summary of what was trained or reused.</summary>
    private sealed record PreparedPair(string Verifier, string Drafter, string VerifierDirectory, string DrafterDirectory, bool Reused, string Summary);

    private static async Task<PreparedPair> PreparePairAsync(string kind, string root, int seed, IProgress<DemoTrainingProgress> progress, CancellationToken cancellationToken)
    {
        if (kind == PairKinds.Transformer)
        {
            var t = await TransformerModels.EnsureAsync(root, seed, progress, cancellationToken: cancellationToken);
            return new PreparedPair(
                TransformerVerifier, TransformerDrafter, t.VerifierDirectory, t.DrafterDirectory, t.Reused, t.Reused
                    ? $"  reused cached pair (key {t.CacheKey[..12]})"
                    : $"  trained tokenizer in {t.TokenizerTrainingTime.TotalSeconds:F1} s, verifier ({t.VerifierParameters:N0} parameters) in {t.VerifierTrainingTime.TotalSeconds:F1} s, drafter ({t.DrafterParameters:N0}) in {t.DrafterTrainingTime.TotalSeconds:F1} s");
        }

        var m = await DemoModels.EnsureAsync(root, seed, progress, cancellationToken);
        return new PreparedPair(
            "demo-verifier", "demo-drafter", m.VerifierDirectory, m.DrafterDirectory, m.Reused, m.Reused
                ? $"  reused cached pair (key {m.CacheKey[..12]})"
                : $"  trained verifier in {m.VerifierTrainingTime.TotalSeconds:F1} s, drafter in {m.DrafterTrainingTime.TotalSeconds:F1} s");
    }

    /// <summary>The default suite: one task per demo corpus language, its first held-out prompts.</summary>
    public static SuiteDefinition DefaultSuite(int promptsPerTask) => new()
    {
        Name = "demo-languages",
        Tasks = [.. DemoCorpus.Tasks.Select(t => new SuiteTask { Id = t.Id, Prompts = [.. t.Prompts.Take(promptsPerTask)], TrainingPrompts = DemoCorpus.TrainingPrompts(t.Id) })],
    };
}
