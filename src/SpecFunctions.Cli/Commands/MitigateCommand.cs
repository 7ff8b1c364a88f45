using System.CommandLine;
using System.Text.Json;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Demo;
using SpecFunctions.Orchestration;
using Spectre.Console;
using SpecFunctions.Core.Models;

namespace SpecFunctions.Cli.Commands;

/// <summary>
/// <c>specfn mitigate RUN_ID</c>: runs the <c>MitigateDrafter</c> loop on a stored run — new drafter (s-CDF or a
/// baseline), re-evaluation of the same suite, before/after report, promotion rule.
/// </summary>
internal static class MitigateCommand
{
    private const string DemoVerifier = "demo-verifier";
    private const string DemoDrafter = "demo-drafter";

    public static Command Create()
    {
        var runId = new Argument<string>("RUN_ID") { Description = "The evaluated run to mitigate" };
        var strategy = new Option<string>("--strategy") { Description = "s-cdf | balanced | temperature | none", DefaultValueFactory = _ => MitigationStrategies.SCdf };
        strategy.AcceptOnlyFromAmong([.. MitigationStrategies.All]);
        var rule = new Option<WeightRule>("--weights") { Description = "s-CDF task weights: ShiftByMinimum | AboveMean | CrossEntropy | VarianceGradient", DefaultValueFactory = _ => WeightRule.ShiftByMinimum };
        var verifier = new Option<DirectoryInfo?>("--verifier") { Description = "Verifier model folder (runs made by `specfn run`)" };
        var drafter = new Option<DirectoryInfo?>("--drafter") { Description = "Drafter model folder (runs made by `specfn run`)" };
        var models = new Option<string?>("--models") { Description = $"Demo pair folder (runs made by `specfn audit`; default {AuditCommand.DefaultModels}, or {Training.TransformerModels.DefaultRoot} for `--pair transformer`)" };
        var output = new Option<string>("--out") { Description = "Folder for report copies", DefaultValueFactory = _ => ".specfn" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document" };
        var store = new CliStore();
        var command = new Command("mitigate", "Fine-tune the drafter of a stored run (s-CDF or a baseline), re-evaluate, compare, promote or keep.")
        {
            runId, strategy, rule, verifier, drafter, models, output, json,
        };
        store.AddTo(command);

        command.SetAction(async (parse, cancellationToken) =>
        {
            var id = parse.GetValue(runId)!;
            if (!StoreIds.IsValid(id))
            {
                Console.Error.WriteLine($"specfn: RUN_ID must match {StoreIds.Pattern}");
                return 2;
            }

            var traceStore = store.Open(parse);
            var manifest = await traceStore.GetManifestAsync(id, cancellationToken);
            if (manifest?.Submission is null)
            {
                Console.Error.WriteLine($"specfn: run '{id}' not found in {traceStore.Location}");
                return 2;
            }

            var evaluation = manifest.Submission.Deserialize<EvaluationRequest>(EvaluationDefaults.Json)!;
            var request = MitigationRequests.From(evaluation, parse.GetValue(strategy)) with { WeightRule = parse.GetValue(rule) };

            // The same rule PlanMitigation applies, checked before any model is loaded or trained (gating trains nothing).
            if (request.Strategy != MitigationStrategies.Gating && MitigationData.RefusalReason(PlanMitigationActivity.Data(request)) is { } refusal)
            {
                Console.Error.WriteLine($"specfn: run '{id}': {refusal}");
                return 2;
            }

            var (v, d) = (parse.GetValue(verifier), parse.GetValue(drafter));
            IModelCatalog catalog;
            if (v is not null && d is not null)
            {
                foreach (var dir in new[] { v, d })
                {
                    if (!File.Exists(Path.Combine(dir.FullName, Core.Models.ModelManifest.FileName)))
                    {
                        Console.Error.WriteLine($"specfn: '{dir.FullName}' is not a model folder (no {Core.Models.ModelManifest.FileName})");
                        return 2;
                    }
                }

                catalog = new ModelCatalog(new Dictionary<string, string> { [evaluation.Verifier] = v.FullName, [evaluation.Drafter] = d.FullName });
            }
            else if (v is null && d is null && evaluation.Verifier == DemoVerifier && evaluation.Drafter == DemoDrafter)
            {
                var pair = await DemoModels.EnsureAsync(parse.GetValue(models) ?? AuditCommand.DefaultModels, cancellationToken: cancellationToken);
                catalog = new ModelCatalog(new Dictionary<string, string> { [DemoVerifier] = pair.VerifierDirectory, [DemoDrafter] = pair.DrafterDirectory });
            }
            else if (v is null && d is null && evaluation.Verifier == AuditCommand.TransformerVerifier && evaluation.Drafter == AuditCommand.TransformerDrafter)
            {
                var pair = await Training.TransformerModels.EnsureAsync(parse.GetValue(models) ?? Training.TransformerModels.DefaultRoot, cancellationToken: cancellationToken);
                catalog = new ModelCatalog(new Dictionary<string, string> { [evaluation.Verifier] = pair.VerifierDirectory, [evaluation.Drafter] = pair.DrafterDirectory });
            }
            else
            {
                Console.Error.WriteLine(v is null && d is null
                    ? $"specfn: run '{id}' was evaluated on its own models (verifier '{evaluation.Verifier}', drafter '{evaluation.Drafter}'): pass --verifier DIR --drafter DIR, the model folders given to `specfn run`"
                    : "specfn: pass both --verifier DIR and --drafter DIR (the model folders the run was evaluated on), or neither for a run of the demo pair");
                return 2;
            }

            var asJson = parse.GetValue(json);
            var observer = new ConsoleObserver(plain: true, asJson ? Console.Error : Console.Out);
            await using var engine = await EmbeddedEngine.StartAsync(traceStore, catalog, observer, cancellationToken: cancellationToken);
            var outcome = await engine.RunAsync<MitigationOutcome>(
                DurableNames.MitigateDrafter, request, $"{id}-mitigation-{request.Strategy}",
                p => { }, cancellationToken);

            var before = await ReportPublisher.ReadAsync(traceStore, id, cancellationToken);
            if (before is not null)
            {
                await EvaluationRunner.SaveAsync(traceStore, before, parse.GetValue(output)!, cancellationToken);
            }

            if (asJson)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new { runId = id, outcome.Status, outcome.Reason, outcome.AfterRunId, mitigation = outcome.Report }, CliJson.Options));
            }
            else
            {
                if (outcome.Report is not null)
                {
                    ReportTable.WriteMitigation(AnsiConsole.Console, outcome.Report);
                }

                AnsiConsole.MarkupLine($"[bold]{Markup.Escape(WireNames.Of(outcome.Status))}[/]: {Markup.Escape(outcome.Reason)}");
            }

            return outcome.Status is MitigationStatus.Promoted or MitigationStatus.Kept ? 0 : 1;
        });
        return command;
    }
}
