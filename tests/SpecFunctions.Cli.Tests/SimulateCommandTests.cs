using System.CommandLine;
using SpecFunctions.Cli.Commands;

namespace SpecFunctions.Cli.Tests;

public class SimulateCommandTests
{
    [Fact]
    public void Run_IssueExample_MatchesTheory()
    {
        // specfn simulate --alpha 0.8 --gamma 4 --cost-ratio 0.1 --steps 20000 --seed 1
        var result = SimulateCommand.Run(alpha: 0.8, gamma: 4, costRatio: 0.1, steps: 20000, vocab: 1024, temperature: 1.0, seed: 1);
        Assert.InRange(result.MeanTokensPerStep, 3.3616 * 0.98, 3.3616 * 1.02);
        Assert.Equal(3.3616, result.ExpectedTokensPerStep, 3);
        Assert.Equal(2.401, result.AnalyticalSpeedup, 3);
        Assert.Equal(0.8, result.Alpha, 5);
        Assert.Equal(20000, result.Steps);
        Assert.Equal(result.AcceptedTokens / (double)result.DraftedTokens, result.AcceptanceRate, 12);
    }

    [Theory]
    [InlineData("--alpha", "1.5")]
    [InlineData("--alpha", "-0.1")]
    [InlineData("--gamma", "0")]
    [InlineData("--gamma", "65")]
    [InlineData("--cost-ratio", "-1")]
    [InlineData("--steps", "0")]
    [InlineData("--alpha", "abc")]
    public void Parse_InvalidOption_ReportsAnErrorNamingTheOption(string option, string value)
    {
        var root = new RootCommand { SimulateCommand.Create() };
        var parse = root.Parse(["simulate", option, value]);
        var error = Assert.Single(parse.Errors);
        Assert.Contains(option, error.Message);
    }
}

public class SuiteFileTests
{
    [Fact]
    public void Load_PromptsFile_IsExpanded_AndBadSuitesNameTheField()
    {
        var folder = Directory.CreateTempSubdirectory("specfn-suite-").FullName;
        File.WriteAllLines(Path.Combine(folder, "en.txt"), ["first prompt", "", "second prompt"]);
        File.WriteAllText(Path.Combine(folder, "ok.json"), """{"name":"s","tasks":[{"id":"en","promptsFile":"en.txt"},{"id":"de","prompts":["eins"]}]}""");
        File.WriteAllText(Path.Combine(folder, "dup.json"), """{"name":"s","tasks":[{"id":"en","prompts":["a"]},{"id":"en","prompts":["b"]}]}""");
        File.WriteAllText(Path.Combine(folder, "escape.json"), """{"name":"s","tasks":[{"id":"en","promptsFile":"../etc/passwd"}]}""");

        var suite = SuiteFile.Load(Path.Combine(folder, "ok.json"));
        Assert.Equal(["first prompt", "second prompt"], suite.Tasks[0].Prompts);
        Assert.Contains("tasks[1].id", Assert.Throws<FormatException>(() => SuiteFile.Load(Path.Combine(folder, "dup.json"))).Message);
        Assert.Contains("promptsFile", Assert.Throws<FormatException>(() => SuiteFile.Load(Path.Combine(folder, "escape.json"))).Message);
        Assert.Contains("not found", Assert.Throws<FormatException>(() => SuiteFile.Load(Path.Combine(folder, "missing.json"))).Message);
        Directory.Delete(folder, recursive: true);
    }
}

public class SuiteImportTests
{
    [Fact]
    public void ImportMgsm_SharedData_OneTaskPerLanguageWithTheFirstQuestions()
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "..", "shared", "data", "mgsm");
        folder = Directory.Exists(folder) ? folder : Environment.GetEnvironmentVariable("SPECFN_MGSM_DIR") ?? folder;
        Assert.True(Directory.Exists(folder), $"MGSM data not found at {Path.GetFullPath(folder)} (set SPECFN_MGSM_DIR)");

        var suite = SpecFunctions.Cli.Commands.SuiteCommand.ImportMgsm(folder, 5);
        var files = Directory.GetFiles(folder, "mgsm_*.tsv").Length;
        Assert.Equal(files, suite.Tasks.Count);
        Assert.All(suite.Tasks, t => Assert.Equal(5, t.Prompts.Count));
        var en = suite.Tasks.Single(t => t.Id == "en");
        Assert.Equal(File.ReadLines(Path.Combine(folder, "mgsm_en.tsv")).First().Split('\t')[0], en.Prompts[0]);
        Assert.DoesNotContain(en.Prompts, p => p.Contains('\t'));
        Assert.Throws<FormatException>(() => SpecFunctions.Cli.Commands.SuiteCommand.ImportMgsm(Path.Combine(folder, "nope"), 5));
    }
}
