using System.CommandLine;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Demo;
using SpecFunctions.Orchestration;
using Spectre.Console;

namespace SpecFunctions.Cli.Commands;

/// <summary>
/// <c>specfn audit</c>: the main job. Builds (or reuses) the demo model pair, evaluates the default multilingual suite
/// on the embedded Durable engine, computes fairness and the mitigation decision, prints the table and U, and writes
/// JSON + HTML reports to <c>./.specfn/</c>. Exits non-zero when a task failed.
/// </summary>
internal static class AuditCommand
{
    public const string DefaultModels = ".specfn/models/demo";

    public static Command Create()
    {
        var models = new Option<string>("--models") { Description = "Folder of the demo model pair (built on first use, cached by content hash)", DefaultValueFactory = _ => DefaultModels };
        var seed = new Option<int>("--model-seed") { Description = "Seed of the demo pair's training", DefaultValueFactory = _ => DemoModels.DefaultSeed };
        var promptsPerTask = new Option<int>("--prompts-per-task")
        {
            // All 20 held-out prompts by default: with 64-token generations the prompts' own spread of acceptance is what
            // widens a task's measured interval (docs/benchmarks.md, "Measured speed-ups that hold still").
            Description = "Held-out prompts per language (1..64; the corpus has 20)",
            DefaultValueFactory = _ => 20,
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
        promptsPerTask.Require(v => v is >= 1 and <= 64, "--prompts-per-task must be in 1..64");

        var command = new Command("audit", "Evaluate the default multilingual suite on the demo pair: per-task speed-ups, unfairness U, mitigation decision, reports.")
        {
            models, seed, promptsPerTask, output, runId, json, strategy, noMitigate, reuse,
        };
        settings.AddTo(command);
        store.AddTo(command);

        command.SetAction(async (parse, cancellationToken) =>
        {
            var asJson = parse.GetValue(json);
            var log = asJson ? Console.Error : Console.Out;
            var started = System.Diagnostics.Stopwatch.StartNew();
            log.WriteLine($"Preparing the demo model pair in {parse.GetValue(models)} ...");
            var lastReport = DateTime.MinValue;
            var progress = new Progress<DemoTrainingProgress>(p =>
            {
                if (DateTime.UtcNow - lastReport > TimeSpan.FromSeconds(2) || p.Step == p.TotalSteps)
                {
                    lastReport = DateTime.UtcNow;
                    log.WriteLine($"  training {p.Model}: step {p.Step}/{p.TotalSteps}, loss {p.Loss:F3} ({p.Elapsed.TotalSeconds:F0} s)");
                }
            });
            var pair = await DemoModels.EnsureAsync(parse.GetValue(models)!, parse.GetValue(seed), progress, cancellationToken);
            log.WriteLine(pair.Reused
                ? $"  reused cached pair (key {pair.CacheKey[..12]})"
                : $"  trained verifier in {pair.VerifierTrainingTime.TotalSeconds:F1} s, drafter in {pair.DrafterTrainingTime.TotalSeconds:F1} s");

            var suite = DefaultSuite(parse.GetValue(promptsPerTask));
            var catalog = new ModelCatalog(new Dictionary<string, string>
            {
                ["demo-verifier"] = pair.VerifierDirectory,
                ["demo-drafter"] = pair.DrafterDirectory,
            });
            var request = new EvaluationRequest
            {
                RunId = parse.GetValue(runId) ?? RunIds.New("audit"),
                Suite = suite,
                Verifier = "demo-verifier",
                Drafter = "demo-drafter",
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

    /// <summary>The default suite: one task per demo corpus language, its first held-out prompts.</summary>
    public static SuiteDefinition DefaultSuite(int promptsPerTask) => new()
    {
        Name = "demo-languages",
        Tasks = [.. DemoCorpus.Tasks.Select(t => new SuiteTask { Id = t.Id, Prompts = [.. t.Prompts.Take(promptsPerTask)], TrainingPrompts = DemoCorpus.TrainingPrompts(t.Id) })],
    };
}
