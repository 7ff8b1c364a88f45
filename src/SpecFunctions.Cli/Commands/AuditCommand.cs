using System.CommandLine;
using SpecFunctions.Cli.Pairs;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Demo;
using SpecFunctions.Orchestration;
using Spectre.Console;

namespace SpecFunctions.Cli.Commands;

/// <summary>
/// <c>specfn audit</c>: the main job. Builds (or reuses) a demo model pair (<c>--pair mlp</c>, the default, or
/// <c>--pair transformer</c>), evaluates the default multilingual suite
/// on the embedded Durable engine, computes fairness and the mitigation decision, prints the table and U, and writes
/// JSON + HTML reports to <c>./.specfn/</c>. Exits non-zero when a task failed.
/// </summary>
internal static class AuditCommand
{
    public static Command Create()
    {
        var pairKind = new Option<string>("--pair")
        {
            Description = $"Which demo pair: {DemoPairs.Mlp.Kind} (byte-level MLP window models, fast) or {DemoPairs.Transformer.Kind} (GPT-style decoders with a trained BPE tokenizer, KV cache)",
            DefaultValueFactory = _ => DemoPairs.Mlp.Kind,
        };
        pairKind.AcceptOnlyFromAmong(DemoPairs.Kinds);
        var models = new Option<string?>("--models") { Description = $"Folder of the demo model pair (built on first use, cached by content hash). Default {string.Join(" or ", DemoPairs.All.Select(p => p.DefaultRoot))}" };
        var seed = new Option<int>("--model-seed") { Description = "Seed of the demo pair's training", DefaultValueFactory = _ => DemoModels.DefaultSeed };
        var promptsPerTask = new Option<int?>("--prompts-per-task")
        {
            // Each pair's own default (IDemoPair.DefaultPromptsPerTask).
            Description = $"Held-out prompts per language (1..64; the corpus has 20). Default {string.Join(", ", DemoPairs.All.Select(p => $"{p.DefaultPromptsPerTask} for the {p.Kind} pair"))}",
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
            var pair = DemoPairs.Get(parse.GetValue(pairKind)!);
            var root = parse.GetValue(models) ?? pair.DefaultRoot;
            log.WriteLine($"Preparing the {pair.Kind} demo model pair in {root} ...");
            var built = await pair.EnsureAsync(root, parse.GetValue(seed), DemoTrainingProgress.LogTo(log), cancellationToken);
            log.WriteLine(built.Reused ? $"  reused cached pair (key {built.CacheKey[..12]})" : built.AuditTrained);

            var suite = DefaultSuite(parse.GetValue(promptsPerTask) ?? pair.DefaultPromptsPerTask);
            var catalog = new ModelCatalog(new Dictionary<string, string>
            {
                [pair.VerifierName] = built.VerifierDirectory,
                [pair.DrafterName] = built.DrafterDirectory,
            });
            var request = new EvaluationRequest
            {
                RunId = parse.GetValue(runId) ?? RunIds.New("audit"),
                Suite = suite,
                Verifier = pair.VerifierName,
                Drafter = pair.DrafterName,
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
                ["pair"] = pair.Kind,
                ["modelsReused"] = built.Reused,
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

    /// <summary>The default suite: one task per demo corpus language, its first held-out prompts.</summary>
    public static SuiteDefinition DefaultSuite(int promptsPerTask) => new()
    {
        Name = "demo-languages",
        Tasks = [.. DemoCorpus.Tasks.Select(t => new SuiteTask { Id = t.Id, Prompts = [.. t.Prompts.Take(promptsPerTask)], TrainingPrompts = DemoCorpus.TrainingPrompts(t.Id) })],
    };
}
