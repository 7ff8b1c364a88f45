using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SpecFunctions.Core.Estimation;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;
using SpecFunctions.Orchestration;
using Spectre.Console;

namespace SpecFunctions.Cli.Commands;

/// <summary>
/// <c>specfn estimate</c>: what a run of a suite on a pair would take before it starts: shards, GPU-seconds, wall time at
/// 1 … N replicas and cost (docs/estimate.md). Calibrates on a few prompts of the pair, or reuses a stored run's report.
/// Evaluates nothing and writes nothing.
/// </summary>
internal static class EstimateCommand
{
    public static Command Create()
    {
        var suite = new Option<FileInfo>("--suite") { Description = "Suite JSON file (inline prompts, promptsFile, or a source blob in the store)", Required = true };
        var verifier = new Option<DirectoryInfo>("--verifier") { Description = "Verifier model folder", Required = true };
        var drafter = new Option<DirectoryInfo>("--drafter") { Description = "Drafter model folder", Required = true };
        var defaults = new EstimateOptions();
        var maxReplicas = new Option<int>("--max-replicas") { Description = "Estimate wall time at 1 … this many replicas", DefaultValueFactory = _ => defaults.MaxReplicas };
        var price = new Option<double>("--price-per-second") { Description = "Price of one replica-second (docs/estimate.md lists published GPU prices); 0: no cost", DefaultValueFactory = _ => defaults.PricePerSecond };
        var coldStart = new Option<double>("--cold-start-seconds") { Description = "A replica's cold start, billed", DefaultValueFactory = _ => defaults.ColdStartSeconds };
        var overhead = new Option<double>("--per-shard-overhead-seconds") { Description = "Orchestration overhead per shard", DefaultValueFactory = _ => defaults.PerShardOverheadSeconds };
        var calibration = new Option<int>("--calibration-prompts") { Description = "Prompts to decode for the calibration", DefaultValueFactory = _ => defaults.CalibrationPrompts };
        var profileRun = new Option<string?>("--profile-run") { Description = "Reuse the cost profile of this stored run's report instead of calibrating" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document" };
        var limits = new EvaluationLimits();
        var settings = new SettingsOptions(limits: limits);
        var store = new CliStore();

        var command = new Command("estimate", "Estimate a run before starting it: shards, GPU-seconds, wall time at 1..N replicas, cost.")
        {
            suite, verifier, drafter, maxReplicas, price, coldStart, overhead, calibration, profileRun, json,
        };
        settings.AddTo(command);
        store.AddTo(command);
        maxReplicas.Require(v => v is >= 1 and <= 1024, "--max-replicas must be in 1..1024");
        price.Require(v => v >= 0 && double.IsFinite(v), "--price-per-second must be a number >= 0");
        coldStart.Require(v => v >= 0 && double.IsFinite(v), "--cold-start-seconds must be a number >= 0");
        overhead.Require(v => v >= 0 && double.IsFinite(v), "--per-shard-overhead-seconds must be a number >= 0");
        calibration.Require(v => v is >= 1 and <= 64, "--calibration-prompts must be in 1..64");
        profileRun.Require(v => v is null || StoreIds.IsValid(v), $"--profile-run must match {StoreIds.Pattern}");

        command.SetAction(async (parse, cancellationToken) =>
        {
            // A suite file that cannot be used throws FormatException: one line, exit 2 (CliErrors).
            var definition = SuiteFile.Load(parse.GetValue(suite)!.FullName, limits);

            CliValidation.RequireModelFolders(parse.GetValue(verifier)!, parse.GetValue(drafter)!);

            var catalog = new ModelCatalog(new Dictionary<string, string>
            {
                ["verifier"] = parse.GetValue(verifier)!.FullName,
                ["drafter"] = parse.GetValue(drafter)!.FullName,
            });
            var request = new EvaluationRequest { RunId = "estimate", Suite = definition, Verifier = "verifier", Drafter = "drafter", Settings = settings.Read(parse) };
            var parameters = new EstimateParameters
            {
                MaxReplicas = parse.GetValue(maxReplicas),
                PricePerSecond = parse.GetValue(price),
                ColdStartSeconds = parse.GetValue(coldStart),
                PerShardOverheadSeconds = parse.GetValue(overhead),
            };
            var estimate = await EstimateAsync(request, store.Open(parse), catalog, null, parameters, cancellationToken, parse.GetValue(profileRun), parse.GetValue(calibration));
            if (estimate is null)
            {
                return ExitCodes.Usage;
            }

            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(estimate, CliJson.Options));
            }
            else
            {
                Print(estimate);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The estimate of <paramref name="request"/> on an embedded engine; null (the problem printed) when its referenced suite cannot be used.</summary>
    public static async Task<RunEstimate?> EstimateAsync(
        EvaluationRequest request, ITraceStore store, IModelCatalog catalog, OnnxModelOptions? onnx, EstimateParameters parameters, CancellationToken cancellationToken,
        string? profileRun = null, int? calibrationPrompts = null)
    {
        calibrationPrompts ??= new EstimateOptions().CalibrationPrompts;
        await using var engine = await EmbeddedEngine.StartAsync(store, catalog, new NullEvaluationObserver(), onnx, cancellationToken: cancellationToken);
        try
        {
            return await engine.Services.GetRequiredService<RunEstimator>().EstimateAsync(request, parameters, profileRun, calibrationPrompts.Value, cancellationToken);
        }
        catch (Exception ex) when (ex is SuiteSourceException or InvalidOperationException)
        {
            // A referenced suite that cannot be used, a stored report without a profile, a calibration without tokens.
            Console.Error.WriteLine($"specfn: {ex.Message}");
            return null;
        }
    }

    private static void Print(RunEstimate e)
    {
        var p = e.Profile;
        AnsiConsole.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"{e.Tasks} tasks, {e.Prompts} prompts, {e.Shards} shards; work {e.WorkSeconds:0.#} s, GPU-seconds {e.GpuSeconds:0.#} (longest shard {e.LongestShardSeconds:0.#} s)")));
        AnsiConsole.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"profile ({p.Source}): verifier {p.VerifierMsPerToken:0.###} ms/token, drafter {p.DrafterMsPerToken:0.###} ms/token, α {p.Alpha:0.###}, v {p.VerificationCostRatio:0.###}, untimed {p.UntimedMsPerToken:0.###} ms/token")));
        var table = new Table().AddColumns("replicas", "wall", "billed s", "cost", "efficiency");
        foreach (var r in e.ByReplicas)
        {
            table.AddRow(
                r.Replicas.ToString(CultureInfo.InvariantCulture),
                TimeSpan.FromSeconds(Math.Round(r.WallSeconds)).ToString(@"d\.hh\:mm\:ss", CultureInfo.InvariantCulture),
                r.BilledSeconds.ToString("0.#", CultureInfo.InvariantCulture),
                r.Cost.ToString("0.####", CultureInfo.InvariantCulture),
                r.Efficiency.ToString("P0", CultureInfo.InvariantCulture));
        }

        AnsiConsole.Write(table);
        foreach (var assumption in e.Assumptions)
        {
            AnsiConsole.MarkupLine($"[grey]assumes: {Markup.Escape(assumption)}[/]");
        }
    }
}
