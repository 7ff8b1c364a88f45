using System.Text;
using System.Text.Json;
using SpecFunctions.Core.Estimation;
using SpecFunctions.Cli.Commands;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.OnnxGraphs;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Cli.Tests;

/// <summary><c>specfn estimate</c> on two tiny real ONNX transformers and a local store: nothing is evaluated or written.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class EstimateCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("specfn-estimate-").FullName;
    private readonly Xunit.Abstractions.ITestOutputHelper _output;

    public EstimateCommandTests(Xunit.Abstractions.ITestOutputHelper output)
    {
        _output = output;
        TinyTransformerBuilder.WriteModelFolder(Path.Combine(_root, "verifier"), new TinyTransformerConfig { Seed = 1 }, "tiny-verifier");
        TinyTransformerBuilder.WriteModelFolder(Path.Combine(_root, "drafter"), new TinyTransformerConfig { Seed = 1, Layers = 1 }, "tiny-drafter");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string[] Args(string suite, params string[] more) =>
    [
        "estimate", "--suite", suite, "--verifier", Path.Combine(_root, "verifier"), "--drafter", Path.Combine(_root, "drafter"),
        "--store", Path.Combine(_root, "store"), "--max-new-tokens", "8", "--gamma", "2", "--repeats", "2", "--json", .. more,
    ];

    [Fact]
    public void Create_NoAssumptionOptions_DefaultsAreTheEstimateOptionsOnes()
    {
        var parse = EstimateCommand.Create().Parse(["--suite", "suite.json", "--verifier", "verifier", "--drafter", "drafter"]);
        var options = new EstimateOptions();
        var parameters = new EstimateParameters();

        Assert.Empty(parse.Errors);
        var cli = (parse.GetValue<int>("--max-replicas"), parse.GetValue<double>("--price-per-second"), parse.GetValue<double>("--cold-start-seconds"),
            parse.GetValue<double>("--per-shard-overhead-seconds"), parse.GetValue<int>("--calibration-prompts"));
        Assert.Equal((options.MaxReplicas, options.PricePerSecond, options.ColdStartSeconds, options.PerShardOverheadSeconds, options.CalibrationPrompts), cli);
        Assert.Equal((parameters.MaxReplicas, parameters.PricePerSecond, parameters.ColdStartSeconds, parameters.PerShardOverheadSeconds),
            (options.MaxReplicas, options.PricePerSecond, options.ColdStartSeconds, options.PerShardOverheadSeconds));

        // The documented defaults (docs/estimate.md, the options' XML docs).
        Assert.Equal((8, 0.0, 60.0, 0.25, 3), cli);
    }

    [Fact]
    public async Task Estimate_InlineSuite_ShardsAndWallTimesFollowFromTheCalibratedProfile()
    {
        var suite = Path.Combine(_root, "suite.json");
        SuiteFile.Save(new SuiteDefinition
        {
            Name = "tiny",
            Tasks =
            [
                new SuiteTask { Id = "a", Prompts = [.. Enumerable.Range(0, 7).Select(i => $"the quick brown fox {i}")] },
                new SuiteTask { Id = "b", Prompts = ["jumps over", "the lazy dog"] },
            ],
        }, suite);

        var (exit, stdout, stderr) = await CliHarness.RunAsync(Args(suite, "--prompts-per-shard", "3", "--max-replicas", "3", "--price-per-second", "0.001", "--cold-start-seconds", "30", "--calibration-prompts", "2"));

        Assert.True(exit == 0, stderr);
        var estimate = JsonSerializer.Deserialize<RunEstimate>(stdout, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
        // Task a: ceil(7 / 3) = 3 shards, task b: 1.
        Assert.Equal((2, 9, 4), (estimate.Tasks, estimate.Prompts, estimate.Shards));
        Assert.Equal("calibrated on 2 prompt(s) at γ = 2", estimate.Profile.Source);
        Assert.InRange(estimate.Profile.Alpha, 0, 1);

        // The figures are the cost model's on the calibrated profile: recompute them from the printed profile.
        var expected = CostEstimator.Estimate(
            [new WorkloadTask("a", 7), new WorkloadTask("b", 2)], new WorkloadSettings(2, 8, 2), estimate.Profile,
            new EstimateParameters { PromptsPerShard = 3, MaxReplicas = 3, PricePerSecond = 0.001, ColdStartSeconds = 30 });
        Assert.Equal(expected.GpuSeconds, estimate.GpuSeconds, 9);
        Assert.Equal(expected.ByReplicas.Select(r => r.WallSeconds), estimate.ByReplicas.Select(r => r.WallSeconds));
        Assert.Equal(estimate.ByReplicas[0].BilledSeconds * 0.001, estimate.ByReplicas[0].Cost, 12);
        Assert.False(Directory.Exists(Path.Combine(_root, "store", "runs")), "an estimate wrote a run");
    }

    [Fact]
    public async Task Estimate_ReferencedSuiteWithABadLine_ExitsTwoNamingBlobAndLine()
    {
        var blob = Path.Combine(_root, "store", "suites", "bad.tsv");
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        await File.WriteAllTextAsync(blob, "a\tprompt\tone\na\tprompt\ttwo\nb\tpromt\tthree\n", new UTF8Encoding(false));
        var suite = Path.Combine(_root, "suite.json");
        await File.WriteAllTextAsync(suite, """{"name":"ref","source":{"blob":"suites/bad.tsv"}}""");

        var (exit, _, stderr) = await CliHarness.RunAsync(Args(suite));

        Assert.Equal(2, exit);
        Assert.Equal("specfn: referenced suite 'suites/bad.tsv' line 3: kind 'promt' is neither 'prompt' nor 'training'", stderr.Trim());
    }

    [Fact]
    public async Task Run_WithEstimate_ReportShowsPredictedAgainstActual()
    {
        var suite = Path.Combine(_root, "suite.json");
        SuiteFile.Save(new SuiteDefinition { Name = "tiny", Tasks = [new SuiteTask { Id = "a", Prompts = ["the quick brown fox", "jumps over"] }] }, suite);

        var (exit, stdout, stderr) = await CliHarness.RunAsync(
            "run", "--suite", suite, "--verifier", Path.Combine(_root, "verifier"), "--drafter", Path.Combine(_root, "drafter"),
            "--store", Path.Combine(_root, "store"), "--out", Path.Combine(_root, "out"), "--max-new-tokens", "8", "--gamma", "2", "--repeats", "1",
            "--run-id", "predicted", "--estimate", "--json");

        Assert.True(exit == 0, stderr);
        Assert.Contains("specfn: estimate: 1 shard(s), about ", stderr, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(stdout);
        var prediction = document.RootElement.GetProperty("report").GetProperty("prediction");
        Assert.Equal(1, prediction.GetProperty("replicas").GetInt32());
        Assert.Equal("calibrated on 2 prompt(s) at γ = 2", prediction.GetProperty("profileSource").GetString());
        Assert.Equal(
            document.RootElement.GetProperty("report").GetProperty("suite").GetProperty("baselineMsPerToken").GetDouble(),
            prediction.GetProperty("actualVerifierMsPerToken").GetDouble(), 12);
        Assert.True(prediction.GetProperty("predictedWallSeconds").GetDouble() > 0);
        _output.WriteLine(prediction.ToString());
    }
}
