using System.CommandLine;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;
using SpecFunctions.Orchestration;
using Spectre.Console;

namespace SpecFunctions.Cli.Commands;

/// <summary><c>specfn run</c>: evaluate a suite on a model pair through the embedded Durable engine.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var suite = new Option<FileInfo>("--suite") { Description = "Suite JSON file", Required = true };
        var verifier = new Option<DirectoryInfo>("--verifier") { Description = "Verifier model folder (specfn-model.json, or an export's genai_config.json / optimum config.json; ONNX graph; tokenizer)", Required = true };
        var drafter = new Option<DirectoryInfo>("--drafter") { Description = "Drafter model folder", Required = true };
        var tokenizer = new Option<FileInfo?>("--tokenizer")
        {
            Description = "A tokenizer.json both models use instead of their folders' own (for an export whose tokenizer does not match its graph)",
        };
        var limits = new EvaluationLimits();
        var settings = new SettingsOptions(limits: limits);
        var runId = new Option<string?>("--run-id") { Description = "Run id (default: generated); re-using one re-uses its committed traces" };
        var output = new Option<string>("--out") { Description = "Folder for report.json/report.html copies", DefaultValueFactory = _ => ".specfn" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document" };
        var estimate = new Option<bool>("--estimate")
        {
            Description = "Calibrate on a few prompts first and keep the estimate with the run: its report shows predicted against actual (specfn estimate for the options)",
        };
        var store = new CliStore();

        var command = new Command("run", "Evaluate a suite on a drafter/verifier pair: per-task speed-ups, fairness, report.")
        {
            suite, verifier, drafter, tokenizer, runId, output, json, estimate,
        };
        settings.AddTo(command);
        store.AddTo(command);
        runId.Require(v => v is null || StoreIds.IsValid(v), $"--run-id must match {StoreIds.Pattern}");

        command.SetAction(async (parse, cancellationToken) =>
        {
            // A suite file that cannot be used throws FormatException: one line, exit 2 (CliErrors).
            var definition = SuiteFile.Load(parse.GetValue(suite)!.FullName, limits);

            // Both folders are read (manifest or derived, tokenizer) before anything starts: a folder that cannot be used
            // gets one line naming the file and the reason.
            var tokenizerFile = parse.GetValue(tokenizer)?.FullName;
            CliValidation.RequireModelFolders(parse.GetValue(verifier)!, parse.GetValue(drafter)!);
            foreach (var dir in new[] { parse.GetValue(verifier)!, parse.GetValue(drafter)! })
            {
                // A folder that cannot be used throws ModelLoadException: one line, exit 1 (CliErrors), as a load in the engine would.
                ModelFolder.Describe(dir.FullName, tokenizerFile);
            }

            var catalog = new ModelCatalog(new Dictionary<string, string>
            {
                ["verifier"] = parse.GetValue(verifier)!.FullName,
                ["drafter"] = parse.GetValue(drafter)!.FullName,
            });
            var request = new EvaluationRequest
            {
                RunId = parse.GetValue(runId) ?? RunIds.New(definition.Name),
                Suite = definition,
                Verifier = "verifier",
                Drafter = "drafter",
                Settings = settings.Read(parse),
            };
            var traceStore = store.Open(parse);
            var onnx = tokenizerFile is null ? null : new OnnxModelOptions { TokenizerFile = tokenizerFile };
            if (parse.GetValue(estimate))
            {
                // The prediction is for this process: one replica running --max-concurrent-tasks tasks at a time counts as one.
                var predicted = await EstimateCommand.EstimateAsync(request, traceStore, catalog, onnx, new Core.Estimation.EstimateParameters { MaxReplicas = 1, ColdStartSeconds = 0 }, cancellationToken);
                if (predicted is null)
                {
                    return ExitCodes.Usage;
                }

                request = request with { Prediction = Core.Estimation.RunPrediction.From(predicted, 1) };
                Console.Error.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"specfn: estimate: {predicted.Shards} shard(s), about {predicted.ByReplicas[0].WallSeconds:0.#} s ({predicted.Profile.Source})"));
            }

            var result = await EvaluationRunner.RunAsync(request, traceStore, catalog, parse.GetValue(json), cancellationToken, parse.GetValue(settings.MaxConcurrentTasks), onnx);
            if (result.Report is not null)
            {
                var (jsonPath, htmlPath) = await EvaluationRunner.SaveAsync(traceStore, result.Report, parse.GetValue(output)!, cancellationToken);
                if (!parse.GetValue(json))
                {
                    AnsiConsole.MarkupLine($"Reports: [link]{Markup.Escape(jsonPath)}[/], [link]{Markup.Escape(htmlPath)}[/] (store: {Markup.Escape(traceStore.Location)})");
                }
            }

            return EvaluationRunner.Print(result, parse.GetValue(json));
        });
        return command;
    }
}

/// <summary>The decoding options shared by <c>run</c> and <c>audit</c>.</summary>
/// <param name="ignoreEosByDefault">
/// <c>audit</c> generates a fixed budget by default: its held-out prompts are whole sentences, and stopping at the
/// newline would end about half the generations after a few bytes, leaving measured speed-ups to chance.
/// </param>
/// <param name="limits">The ranges of γ and the token budget: the limits the HTTP API applies (default <see cref="EvaluationLimits"/>).</param>
internal sealed class SettingsOptions(bool ignoreEosByDefault = false, EvaluationLimits? limits = null)
{
    public EvaluationLimits Limits { get; } = limits ?? new EvaluationLimits();

    public Option<int> Gamma { get; } = new("--gamma") { DefaultValueFactory = _ => 4 };

    public Option<double> Temperature { get; } = new("--temperature") { Description = "Sampling temperature (0 = greedy); sampling is lossless at any temperature", DefaultValueFactory = _ => 1.0 };

    public Option<int> MaxNewTokens { get; } = new("--max-new-tokens") { DefaultValueFactory = _ => 64 };

    public Option<long> Seed { get; } = new("--seed") { Description = "Sampler seed", DefaultValueFactory = _ => 1 };

    public Option<bool> IgnoreEos { get; } = new("--ignore-eos")
    {
        Description = "Generate exactly --max-new-tokens per prompt, past end-of-sequence tokens (steadier speed-up measurements)"
            + (ignoreEosByDefault ? "; on by default here, --ignore-eos false stops at them" : string.Empty),
        DefaultValueFactory = _ => ignoreEosByDefault,
    };

    public Option<int> Repeats { get; } = new("--repeats")
    {
        Description = "Timed repeats per prompt of the speculative run and the baseline, interleaved; each keeps its fastest (steadier measured speed-ups, longer runs)",
        DefaultValueFactory = _ => EvaluationSettings.DefaultRepeats,
    };

    public Option<int?> PromptsPerShard { get; } = new("--prompts-per-shard")
    {
        Description = $"Prompts per shard: a task with more runs as several activities, each committing its own trace part, and a re-run with the same --run-id redoes only unfinished shards (default {EvaluationOptions.DefaultPromptsPerShard})",
    };

    public Option<int> MaxConcurrentTasks { get; } = new("--max-concurrent-tasks") { Description = "Task evaluations run at once in this process (timings are cleanest at 1)", DefaultValueFactory = _ => 1 };

    public void AddTo(Command command)
    {
        command.Options.Add(Gamma);
        command.Options.Add(Temperature);
        command.Options.Add(MaxNewTokens);
        command.Options.Add(Seed);
        command.Options.Add(IgnoreEos);
        command.Options.Add(Repeats);
        command.Options.Add(MaxConcurrentTasks);
        command.Options.Add(PromptsPerShard);
        PromptsPerShard.Require(v => v is null || (v >= 1 && v <= Limits.MaxPromptsPerShard), $"--prompts-per-shard must be in 1..{Limits.MaxPromptsPerShard}");
        Repeats.Require(v => v >= 1 && v <= Limits.MaxRepeats, $"--repeats must be in 1..{Limits.MaxRepeats}");
        MaxConcurrentTasks.Require(v => v is >= 1 and <= 64, "--max-concurrent-tasks must be in 1..64");
        Gamma.Description = $"Draft length γ, 1..{Limits.MaxGamma}";
        MaxNewTokens.Description = $"Token budget per prompt, 1..{Limits.MaxNewTokens}";
        Gamma.Require(v => v >= 1 && v <= Limits.MaxGamma, $"--gamma must be in 1..{Limits.MaxGamma}");
        Temperature.Require(v => v is >= 0 and < double.PositiveInfinity, "--temperature must be >= 0");
        MaxNewTokens.Require(v => v >= 1 && v <= Limits.MaxNewTokens, $"--max-new-tokens must be in 1..{Limits.MaxNewTokens}");
    }

    public EvaluationSettings Read(ParseResult parse) => new()
    {
        Gamma = parse.GetValue(Gamma),
        Temperature = parse.GetValue(Temperature),
        MaxNewTokens = parse.GetValue(MaxNewTokens),
        Seed = parse.GetValue(Seed),
        IgnoreEos = parse.GetValue(IgnoreEos),
        Repeats = parse.GetValue(Repeats),
        PromptsPerShard = parse.GetValue(PromptsPerShard),
    };
}

/// <summary>Run ids: <c>{suite}-{UTC timestamp}-{random}</c>, valid store ids.</summary>
internal static class RunIds
{
    public static string New(string suiteName)
    {
        var prefix = new string([.. suiteName.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')]).Trim('-');
        prefix = prefix.Length == 0 ? "run" : prefix[..Math.Min(prefix.Length, 24)];
        return $"{prefix}-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Random.Shared.Next(0x1000, 0xFFFF):x4}";
    }
}
