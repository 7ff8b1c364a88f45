using System.CommandLine;
using System.Text.Json;
using SpecFunctions.Cli.Pairs;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Demo;
using SpecFunctions.Orchestration;
using Spectre.Console;

namespace SpecFunctions.Cli.Commands;

/// <summary>
/// <c>specfn mitigate RUN_ID</c>: runs the <c>MitigateDrafter</c> loop on a stored run — new drafter (s-CDF or a
/// baseline), re-evaluation of the same suite, before/after report, promotion rule. Refusals are
/// <see cref="CliException"/>s with <see cref="ExitCodes.Usage"/>: one <c>specfn: …</c> line through the CLI's error policy.
/// </summary>
internal static class MitigateCommand
{
    public static Command Create()
    {
        var runId = new Argument<string>("RUN_ID") { Description = "The evaluated run to mitigate" };
        var strategy = new Option<string>("--strategy") { Description = "s-cdf | balanced | temperature | none", DefaultValueFactory = _ => MitigationStrategies.SCdf };
        strategy.AcceptOnlyFromAmong([.. MitigationStrategies.All]);
        var rule = new Option<WeightRule>("--weights") { Description = "s-CDF task weights: ShiftByMinimum | AboveMean | CrossEntropy | VarianceGradient", DefaultValueFactory = _ => WeightRule.ShiftByMinimum };
        var verifier = new Option<DirectoryInfo?>("--verifier") { Description = "Verifier model folder (runs made by `specfn run`)" };
        var drafter = new Option<DirectoryInfo?>("--drafter") { Description = "Drafter model folder (runs made by `specfn run`)" };
        var models = new Option<string?>("--models") { Description = $"Demo pair folder (runs made by `specfn audit`; default {DemoPairs.Mlp.DefaultRoot}, or {DemoPairs.Transformer.DefaultRoot} for `--pair {DemoPairs.Transformer.Kind}`)" };
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
                throw new CliException($"RUN_ID must match {StoreIds.Pattern}", ExitCodes.Usage);
            }

            var traceStore = store.Open(parse);
            var manifest = await traceStore.GetManifestAsync(id, cancellationToken);
            if (manifest?.Submission is null)
            {
                throw new CliException($"run '{id}' not found in {traceStore.Location}", ExitCodes.Usage);
            }

            var evaluation = manifest.Submission.Deserialize<EvaluationRequest>(EvaluationDefaults.Json)!;
            if (evaluation.Suite.Source is { } source)
            {
                // A suite by reference: the run's tasks (and training prompts) are in its blob, read as the run read it.
                var suite = await traceStore.ReadSuiteSourceAsync(evaluation.Suite.Name, source, new EvaluationLimits(), cancellationToken);
                evaluation = evaluation with { Suite = suite with { Source = null } };
            }

            var request = MitigationRequests.From(evaluation, parse.GetValue(strategy)) with { WeightRule = parse.GetValue(rule) };

            // The same rule PlanMitigation applies, checked before any model is loaded or trained (gating trains nothing).
            if (request.Strategy != MitigationStrategies.Gating && MitigationData.RefusalReason(PlanMitigationActivity.Data(request)) is { } refusal)
            {
                throw new CliException($"run '{id}': {refusal}", ExitCodes.Usage);
            }

            var catalog = await CatalogAsync(id, evaluation, parse.GetValue(verifier), parse.GetValue(drafter), parse.GetValue(models), cancellationToken);
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

    // The run's models: the folders given on the command line, or the demo pair an audit evaluated (built or reused).
    private static async Task<IModelCatalog> CatalogAsync(
        string id, EvaluationRequest evaluation, DirectoryInfo? verifier, DirectoryInfo? drafter, string? models, CancellationToken cancellationToken)
    {
        if (verifier is not null && drafter is not null)
        {
            foreach (var dir in new[] { verifier, drafter })
            {
                if (!File.Exists(Path.Combine(dir.FullName, ModelManifest.FileName)))
                {
                    throw new CliException($"'{dir.FullName}' is not a model folder (no {ModelManifest.FileName})", ExitCodes.Usage);
                }
            }

            return new ModelCatalog(new Dictionary<string, string> { [evaluation.Verifier] = verifier.FullName, [evaluation.Drafter] = drafter.FullName });
        }

        if (verifier is null && drafter is null && DemoPairs.ForModels(evaluation.Verifier, evaluation.Drafter) is { } pair)
        {
            var built = await pair.EnsureAsync(models ?? pair.DefaultRoot, DemoModels.DefaultSeed, progress: null, cancellationToken);
            return new ModelCatalog(new Dictionary<string, string> { [pair.VerifierName] = built.VerifierDirectory, [pair.DrafterName] = built.DrafterDirectory });
        }

        throw new CliException(
            verifier is null && drafter is null
                ? $"run '{id}' was evaluated on its own models (verifier '{evaluation.Verifier}', drafter '{evaluation.Drafter}'): pass --verifier DIR --drafter DIR, the model folders given to `specfn run`"
                : "pass both --verifier DIR and --drafter DIR (the model folders the run was evaluated on), or neither for a run of the demo pair",
            ExitCodes.Usage);
    }
}
