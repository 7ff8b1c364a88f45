using System.CommandLine;
using System.Text.Json;
using SpecFunctions.Cli.Commands;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Demo;
using SpecFunctions.Storage;
using SpecFunctions.Storage.Tests;
using Xunit.Abstractions;

namespace SpecFunctions.Cli.Tests;

/// <summary><c>specfn run</c> on the demo pair against a real Azurite: the report agrees with the traces read back.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class RunCommandEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly AzuriteFixture _azurite = new();
    private string _root = null!;

    public async Task InitializeAsync()
    {
        await _azurite.InitializeAsync();
        _root = Directory.CreateTempSubdirectory("specfn-cli-e2e-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _azurite.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Run_DemoPairWithAzuriteStore_ReportAgreesWithTracesReadBack()
    {
        var pair = await DemoModels.EnsureAsync(Path.Combine(_root, "models"));
        var suitePath = Path.Combine(_root, "suite.json");
        SuiteFile.Save(new Core.Evaluation.SuiteDefinition
        {
            Name = "e2e",
            Tasks = [.. DemoCorpus.Tasks.Where(t => t.Id is "en" or "ru" or "zh").Select(t => new Core.Evaluation.SuiteTask
            {
                Id = t.Id,
                Prompts = [.. t.Prompts.Take(3)],
                TrainingPrompts = [.. DemoCorpus.TrainingPrompts(t.Id, count: 12)],
            })],
        }, suitePath);

        var root = new RootCommand { RunCommand.Create() };
        var stdout = new StringWriter();
        var previous = Console.Out;
        int exit;
        try
        {
            Console.SetOut(stdout);
            exit = await root.Parse([
                "run", "--suite", suitePath, "--verifier", pair.VerifierDirectory, "--drafter", pair.DrafterDirectory,
                "--max-new-tokens", "24", "--ignore-eos", "--run-id", "e2e-run", "--blob-connection", _azurite.ConnectionString,
                "--out", Path.Combine(_root, "out"), "--json"]).InvokeAsync();
        }
        finally
        {
            Console.SetOut(previous);
        }

        output.WriteLine(stdout.ToString()[..Math.Min(2000, stdout.ToString().Length)]);
        Assert.Equal(0, exit);
        using var document = JsonDocument.Parse(stdout.ToString());
        Assert.Equal("e2e-run", document.RootElement.GetProperty("runId").GetString());

        var store = BlobObjectStore.CreateTraceStore(_azurite.ConnectionString);
        var report = await ReportPublisher.ReadAsync(store, "e2e-run");
        Assert.NotNull(report);
        Assert.Equal(["en", "ru", "zh"], report!.Tasks.Select(t => t.TaskId));

        // --ignore-eos: every prompt generates the whole budget (the held-out prompts are whole sentences, and without
        // it some generations end at their first newline after a few bytes).
        Assert.All(report.Tasks, t => Assert.Equal(3 * 24, t.GeneratedTokens));

        // Recompute every task from the traces in the blob store.
        var tasks = new List<(string, IReadOnlyList<PromptStatistics>)>();
        foreach (var task in report.Tasks)
        {
            var builder = new TaskStatisticsBuilder(report.Suite.Gamma);
            var steps = 0;
            await foreach (var record in store.ReadTraceAsync("e2e-run", task.TaskId))
            {
                builder.Add(record);
                steps += record is Core.Tracing.StepTrace ? 1 : 0;
            }

            Assert.Equal(task.Steps, steps);
            tasks.Add((task.TaskId, builder.Build()));
        }

        var recomputed = SuiteAnalyzer.Analyze(tasks, report.Suite.Gamma);
        Assert.Equal(recomputed.Fairness.Unfairness, report.Suite.Fairness.Unfairness, 12);
        Assert.Equal(recomputed.Tasks.Select(t => t.Alpha), report.Tasks.Select(t => t.Alpha));
        Assert.Equal(recomputed.Tasks.Select(t => t.CrossEntropy), report.Tasks.Select(t => t.CrossEntropy));
        Assert.Equal(report.Suite.Fairness.Unfairness, document.RootElement.GetProperty("report").GetProperty("suite").GetProperty("fairness").GetProperty("unfairness").GetDouble(), 12);

        // The disparity the demo pair is built to show: the drafter's main language is served better than Chinese.
        var alpha = report.Tasks.ToDictionary(t => t.TaskId, t => t.Alpha);
        Assert.True(alpha["en"] > alpha["zh"] + 0.1, $"en {alpha["en"]:F3} vs zh {alpha["zh"]:F3}");
        Assert.True(File.Exists(Path.Combine(_root, "out", "e2e-run.report.html")));

        // The table a person sees renders every task and U (Spectre markup in values must be escaped).
        var text = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(text), ColorSystem = Spectre.Console.ColorSystemSupport.NoColors });
        console.Profile.Width = 200;
        ReportTable.Write(console, report with
        {
            Mitigation = new MitigationReport
            {
                Strategy = "s-cdf", UnfairnessBefore = 0.4, UnfairnessAfter = 0.1, MeanSpeedupBefore = 2, MeanSpeedupAfter = 2.1, Promoted = true,
                Tasks = [new MitigationTaskReport
                {
                    TaskId = "zh", AlphaBefore = 0.2, AlphaAfter = 0.5, CrossEntropyBefore = 4, CrossEntropyAfter = 3, SpeedupBefore = 0.8, SpeedupAfter = 1.2,
                    TrainingPrompts = 40, EvaluationPrompts = 20, PromptOverlap = 0, DevPrompts = 8,
                }],
            },
        });
        var rendered = text.ToString();
        Assert.All(report.Tasks, t => Assert.Contains(t.TaskId, rendered));
        Assert.Contains($"U = {report.Suite.Fairness.Unfairness:G4}", rendered);
        Assert.Contains("promoted", rendered);
        Assert.Matches(@"zh\s*│\s*0\.200\s*│\s*0\.500\s*│\s*4\.000\s*│\s*3\.000\s*│\s*0\.80\s*│\s*1\.20\s*│\s*40\s*│\s*20\s*│\s*0\s*│", rendered);
        Assert.Contains("Data: 40 training prompts (8 of them the dev split: D_T re-estimates, weights, τ), 20 evaluation prompts, overlap 0", rendered);

        // The closed loop on the same run and store: s-CDF in process, the new drafter stored content-addressed in the
        // blob container, the suite re-evaluated with it (resolved as name@sha256), before/after written back.
        var mitigateOut = new StringWriter();
        try
        {
            Console.SetOut(mitigateOut);
            exit = await new RootCommand { MitigateCommand.Create() }.Parse([
                "mitigate", "e2e-run", "--verifier", pair.VerifierDirectory, "--drafter", pair.DrafterDirectory,
                "--blob-connection", _azurite.ConnectionString, "--out", Path.Combine(_root, "out"), "--json"]).InvokeAsync();
        }
        finally
        {
            Console.SetOut(previous);
        }

        output.WriteLine(mitigateOut.ToString()[..Math.Min(3000, mitigateOut.ToString().Length)]);
        Assert.Equal(0, exit);
        using var mitigation = JsonDocument.Parse(mitigateOut.ToString());
        var m = mitigation.RootElement.GetProperty("mitigation");
        Assert.Equal("s-cdf", m.GetProperty("strategy").GetString());
        Assert.Equal(report.Suite.Fairness.Unfairness, m.GetProperty("unfairnessBefore").GetDouble(), 12);
        Assert.Equal(3, m.GetProperty("tasks").GetArrayLength());

        // The data it used, per task: the suite's 12 training prompts, its 3 evaluation prompts, no prompt in both.
        Assert.All(m.GetProperty("tasks").EnumerateArray(), t => Assert.Equal(
            (12, 3, 0), (t.GetProperty("trainingPrompts").GetInt32(), t.GetProperty("evaluationPrompts").GetInt32(), t.GetProperty("promptOverlap").GetInt32())));
        var after = await ReportPublisher.ReadAsync(store, "e2e-run-after-s-cdf");
        Assert.NotNull(after);
        Assert.Equal(after!.Suite.Fairness.Unfairness, m.GetProperty("unfairnessAfter").GetDouble(), 12);
        var newDrafter = after.Drafter!;
        Assert.NotEqual(report.Drafter!.Sha256, newDrafter.Sha256);
        var downloaded = Path.Combine(_root, "downloaded");
        await store.GetModelAsync(newDrafter, downloaded);
        Assert.Equal(newDrafter.Sha256, Core.Storage.ModelFolderHash.Compute(downloaded).Sha256);
        Assert.Equal(report.Verifier!.Sha256, after.Verifier!.Sha256);
        Assert.NotNull((await ReportPublisher.ReadAsync(store, "e2e-run"))!.Mitigation);

        // The corrective data (verifier soft labels, top-k + rest mass) is stored next to the run.
        await using var data = await store.OpenArtifactAsync("e2e-run", Core.Storage.RunArtifact.CorrectiveData);
        Assert.NotNull(data);
        using var reader = new StreamReader(new System.IO.Compression.GZipStream(data!, System.IO.Compression.CompressionMode.Decompress));
        var seenTasks = new HashSet<string>();
        var lines = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            using var example = JsonDocument.Parse(line);
            seenTasks.Add(example.RootElement.GetProperty("task").GetString()!);
            var top = example.RootElement.GetProperty("top").EnumerateArray().Select(e => e[1].GetDouble()).ToList();
            Assert.Equal(16, top.Count);
            Assert.True(top.Zip(top.Skip(1)).All(x => x.First >= x.Second), "top-k not sorted");
            Assert.Equal(1.0, top.Sum() + example.RootElement.GetProperty("rest").GetDouble(), 3);
            lines++;
        }

        Assert.Equal(["en", "ru", "zh"], seenTasks.Order());
        Assert.True(lines > 100, $"only {lines} corrective examples");
    }
}
