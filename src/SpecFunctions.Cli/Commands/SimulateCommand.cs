using System.CommandLine;
using System.Text.Json;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Models.Synthetic;
using SpecFunctions.Core.Sampling;
using Spectre.Console;

namespace SpecFunctions.Cli.Commands;

/// <summary><c>specfn simulate</c>: the real engine on a synthetic pair with a chosen per-position acceptance α.</summary>
internal static class SimulateCommand
{
    public static Command Create()
    {
        var alpha = new Option<double>("--alpha") { Description = "Exact acceptance probability α(s) of every drafted position, in [0, 1] (at temperature 1)", DefaultValueFactory = _ => 0.8 };
        var gamma = new Option<int>("--gamma") { Description = $"Draft length γ, 1..{DecodingOptions.MaxGamma}", DefaultValueFactory = _ => 4 };
        var costRatio = new Option<double>("--cost-ratio") { Description = "Cost ratio c = drafter forward time / verifier forward time (>= 0)", DefaultValueFactory = _ => 0.1 };
        var steps = new Option<int>("--steps") { Description = "Number of speculative steps (> 0)", DefaultValueFactory = _ => 20000 };
        var vocab = new Option<int>("--vocab") { Description = "Vocabulary size (>= 2)", DefaultValueFactory = _ => 1024 };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature (0 = greedy)", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the models and of the sampler", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table" };

        alpha.Require(v => v is >= 0 and <= 1, "--alpha must be in [0, 1]");
        gamma.Require(v => v is >= 1 and <= DecodingOptions.MaxGamma, $"--gamma must be in 1..{DecodingOptions.MaxGamma}");
        costRatio.Require(v => v >= 0, "--cost-ratio must be >= 0");
        steps.Require(v => v > 0, "--steps must be > 0");
        vocab.Require(v => v >= 2, "--vocab must be >= 2");
        temperature.Require(v => v >= 0, "--temperature must be >= 0");

        var command = new Command("simulate", "Run the speculative engine on a synthetic drafter/verifier pair with a chosen acceptance α, to see what γ and c buy.")
        {
            alpha, gamma, costRatio, steps, vocab, temperature, seed, json,
        };

        command.SetAction(parse =>
        {
            var result = Run(
                parse.GetValue(alpha), parse.GetValue(gamma), parse.GetValue(costRatio), parse.GetValue(steps),
                parse.GetValue(vocab), parse.GetValue(temperature), parse.GetValue(seed));
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(result, CliJson.Options));
            }
            else
            {
                Print(result);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    internal static SimulationResult Run(double alpha, int gamma, double costRatio, int steps, int vocab, double temperature, int seed)
    {
        var (drafter, verifier) = SyntheticPair.Create(vocab, alpha, seed);
        var options = new DecodingOptions
        {
            Gamma = gamma,
            MaxNewTokens = int.MaxValue,
            MaxSteps = steps,
            Sampling = new SamplingOptions { Temperature = temperature },
            Seed = seed,
            RecordTokens = false,
        };
        var statistics = new TaskStatisticsBuilder(gamma);
        var decoder = new SpeculativeDecoder(drafter, verifier, options);
        var generation = decoder.Generate([0], statistics);
        var metrics = SuiteAnalyzer.Analyze([("simulation", statistics.Build())], gamma, new SuiteAnalysisOptions { CostRatio = costRatio, Seed = seed });
        var task = metrics.Tasks[0];
        return new SimulationResult
        {
            Alpha = task.Alpha,
            RequestedAlpha = alpha,
            Gamma = gamma,
            CostRatio = costRatio,
            Temperature = temperature,
            Vocab = vocab,
            Seed = seed,
            Steps = task.Steps,
            DraftedTokens = task.DraftedTokens,
            AcceptedTokens = task.AcceptedTokens,
            GeneratedTokens = generation.Tokens.Length,
            AcceptanceRate = task.AcceptanceRate,
            MeanTokensPerStep = task.MeanAcceptedLength,
            ExpectedTokensPerStep = SpeculativeMath.ExpectedTokensPerStep(task.Alpha, gamma),
            AnalyticalSpeedup = task.AnalyticalSpeedup,
            ExpectedSpeedupPerPrefix = task.ExpectedSpeedupPerPrefix,
            SpeedupAtAlphaZero = SpeculativeMath.AnalyticalSpeedup(0, gamma, costRatio),
            AcceptanceRateByPosition = task.AcceptanceRateByPosition,
            AcceptedPastPosition = task.AcceptedPastPosition,
            EngineSeconds = generation.Elapsed.TotalSeconds,
        };
    }

    private static void Print(SimulationResult r)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("quantity").AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("α (mean exact α(s))", r.Alpha.ToString("F4"));
        table.AddRow("acceptance rate (accepted / proposed)", r.AcceptanceRate.ToString("F4"));
        table.AddRow("tokens per step, measured (bonus included)", r.MeanTokensPerStep.ToString("F4"));
        table.AddRow("tokens per step, expected f_γ(α)", r.ExpectedTokensPerStep.ToString("F4"));
        table.AddRow($"analytical speed-up f_γ(α)/(1+γc), γ={r.Gamma}, c={r.CostRatio}", r.AnalyticalSpeedup.ToString("F3"));
        table.AddRow("speed-up if nothing is accepted (α=0)", r.SpeedupAtAlphaZero.ToString("F3"));
        table.AddRow("acceptance rate by draft position (accepted / verified)", string.Join("  ", r.AcceptanceRateByPosition.Select(a => a.ToString("F3"))));
        table.AddRow("P(accepted length > position)", string.Join("  ", r.AcceptedPastPosition.Select(a => a.ToString("F3"))));
        table.AddRow("steps / tokens", $"{r.Steps} / {r.GeneratedTokens}");
        AnsiConsole.Write(table);
    }
}

internal sealed record SimulationResult
{
    public double Alpha { get; init; }
    public double RequestedAlpha { get; init; }
    public int Gamma { get; init; }
    public double CostRatio { get; init; }
    public double Temperature { get; init; }
    public int Vocab { get; init; }
    public int Seed { get; init; }
    public int Steps { get; init; }
    public int DraftedTokens { get; init; }
    public int AcceptedTokens { get; init; }
    public int GeneratedTokens { get; init; }
    public double AcceptanceRate { get; init; }
    public double MeanTokensPerStep { get; init; }
    public double ExpectedTokensPerStep { get; init; }
    public double AnalyticalSpeedup { get; init; }
    public double ExpectedSpeedupPerPrefix { get; init; }
    public double SpeedupAtAlphaZero { get; init; }
    public double[] AcceptanceRateByPosition { get; init; } = [];

    public double[] AcceptedPastPosition { get; init; } = [];
    public double EngineSeconds { get; init; }
}
