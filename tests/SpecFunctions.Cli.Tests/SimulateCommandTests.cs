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
        Assert.Contains("does not exist", Assert.Throws<FormatException>(() => SuiteFile.Load(Path.Combine(folder, "missing.json"))).Message);
        Directory.Delete(folder, recursive: true);
    }
}

/// <summary>
/// <c>suite import-mgsm</c> on files in MGSM's format (<c>mgsm_&lt;lang&gt;.tsv</c>, UTF-8, no header, one problem per
/// line: question, a tab, the numeric answer; no quoting, so quotes are part of the text), written here with invented
/// problems: the repository carries no MGSM data.
/// </summary>
public sealed class SuiteImportTests : IDisposable
{
    private const string EnBaker = "A baker fills 7 trays with 12 rolls each and sells 50 rolls.  How many rolls are left?";
    private const string EnSign = "Mia reads the sign \"Open 9 to 5\" and arrives at noon. How many hours are left before it closes?";
    private const string EnToll = "A bridge toll is $3 per car. On Monday 1,200 cars cross it. How many dollars are collected?";
    private const string EnPencils = "Tom has 4 boxes of 25 pencils.  He gives away 30. How many remain?";
    private const string EsGarden = "Lucía planta 6 filas de 8 tomates. ¿Cuántos tomates planta?";
    private const string EsBus = "Un autobús lleva 40 pasajeros y bajan 15. ¿Cuántos quedan?";
    private const string EsCoins = "Pablo tiene 3 monedas de 50 céntimos. ¿Cuántos céntimos tiene?";
    private const string DeTrain = "Ein Zug fährt 2 Stunden lang 80 km pro Stunde. Wie weit fährt er?";
    private const string DeApples = "Jana kauft 5 Tüten mit je 6 Äpfeln. Wie viele Äpfel hat sie?";

    private readonly string _folder = Directory.CreateTempSubdirectory("specfn-mgsm-format-").FullName;

    public SuiteImportTests()
    {
        // English: LF line ends; a row with only an answer (no question) and a blank line, which do not count towards
        // the per-language limit; four questions in all.
        File.WriteAllText(Path.Combine(_folder, "mgsm_en.tsv"),
            $"{EnBaker}\t34\n\t99\n{EnSign}\t5\n\n{EnToll}\t3,600\n{EnPencils}\t70\n");
        // Spanish: CRLF line ends (a file saved on Windows), exactly three questions.
        File.WriteAllText(Path.Combine(_folder, "mgsm_es.tsv"), $"{EsGarden}\t48\r\n{EsBus}\t25\r\n{EsCoins}\t150\r\n");
        // German: upper-case language code in the file name, padded question, two questions only.
        File.WriteAllText(Path.Combine(_folder, "mgsm_DE.tsv"), $"  {DeTrain} \t160\n{DeApples}\t30\n");
        // Swahili: no question at all, so no task.
        File.WriteAllText(Path.Combine(_folder, "mgsm_sw.tsv"), "\n   \t12\n");
        // Not question files: another extension, another prefix, the data set's own notes.
        File.WriteAllText(Path.Combine(_folder, "mgsm_fr.csv"), "Question,7\n");
        File.WriteAllText(Path.Combine(_folder, "notes.tsv"), "not a question\t1\n");
        File.WriteAllText(Path.Combine(_folder, "README.md"), "# invented test data\n");
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ImportMgsm_MgsmFormat_OneTaskPerLanguageWithTheFirstQuestionsOnly()
    {
        var suite = SuiteCommand.ImportMgsm(_folder, 3);

        Assert.Equal("mgsm", suite.Name);
        Assert.Equal(["de", "en", "es"], suite.Tasks.Select(t => t.Id));
        Assert.Equal([DeTrain, DeApples], suite.Tasks[0].Prompts);
        Assert.Equal([EnBaker, EnSign, EnToll], suite.Tasks[1].Prompts);
        Assert.Equal([EsGarden, EsBus, EsCoins], suite.Tasks[2].Prompts);
        Assert.All(suite.Tasks.SelectMany(t => t.Prompts), p => Assert.DoesNotMatch(@"[\t\r\n]", p));
    }

    [Theory]
    [InlineData(1, new[] { 1, 1, 1 })]
    [InlineData(2, new[] { 2, 2, 2 })]
    [InlineData(4, new[] { 2, 4, 3 })]
    [InlineData(256, new[] { 2, 4, 3 })]
    public void ImportMgsm_PerLanguage_CapsEachTaskAtTheFirstNQuestions(int perLanguage, int[] expected)
    {
        var suite = SuiteCommand.ImportMgsm(_folder, perLanguage);

        Assert.Equal(expected, suite.Tasks.Select(t => t.Prompts.Count));
        Assert.Equal([DeTrain, EnBaker, EsGarden], suite.Tasks.Select(t => t.Prompts[0]));
    }

    [Fact]
    public void ImportMgsm_TrainingPerLanguage_NextQuestionsDisjointFromTheEvaluationOnes()
    {
        // English has a repeated question after its first two: it is an evaluation question, so never a training one.
        File.AppendAllText(Path.Combine(_folder, "mgsm_en.tsv"), $"{EnBaker}\t34\n");

        var suite = SuiteCommand.ImportMgsm(_folder, 2, 3);

        Assert.Equal([DeTrain, DeApples], suite.Tasks[0].Prompts);
        Assert.Null(suite.Tasks[0].TrainingPrompts);
        Assert.Equal([EnBaker, EnSign], suite.Tasks[1].Prompts);
        Assert.Equal([EnToll, EnPencils], suite.Tasks[1].TrainingPrompts);
        Assert.Equal([EsGarden, EsBus], suite.Tasks[2].Prompts);
        Assert.Equal([EsCoins], suite.Tasks[2].TrainingPrompts);
        Assert.All(suite.Tasks, t => Assert.Empty((t.TrainingPrompts ?? []).Intersect(t.Prompts)));
    }

    [Theory]
    [InlineData(0, new[] { 0, 0, 0 })]
    [InlineData(1, new[] { 0, 1, 1 })]
    [InlineData(2, new[] { 0, 2, 1 })]
    public void ImportMgsm_TrainingPerLanguage_CapsEachTaskAtTheQuestionsLeft(int training, int[] expected)
    {
        var suite = SuiteCommand.ImportMgsm(_folder, 2, training);

        Assert.Equal(expected, suite.Tasks.Select(t => t.TrainingPrompts?.Count ?? 0));
        Assert.Equal([2, 2, 2], suite.Tasks.Select(t => t.Prompts.Count));
    }

    [Fact]
    public void ImportMgsm_BadFolders_ThrowFormatExceptionNamingTheProblem()
    {
        Assert.Contains("not found", Assert.Throws<FormatException>(() => SuiteCommand.ImportMgsm(Path.Combine(_folder, "nope"), 5)).Message);

        var empty = Directory.CreateDirectory(Path.Combine(_folder, "only-blank"));
        File.WriteAllText(Path.Combine(empty.FullName, "mgsm_en.tsv"), "\n\t4\n");
        Assert.Contains("no mgsm_<lang>.tsv file with questions", Assert.Throws<FormatException>(() => SuiteCommand.ImportMgsm(empty.FullName, 5)).Message);

        var badCode = Directory.CreateDirectory(Path.Combine(_folder, "bad-code"));
        File.WriteAllText(Path.Combine(badCode.FullName, "mgsm_pt.br.tsv"), $"{EnBaker}\t34\n");
        Assert.Contains("'mgsm_pt.br.tsv'", Assert.Throws<FormatException>(() => SuiteCommand.ImportMgsm(badCode.FullName, 5)).Message);
    }

    [Fact]
    public void ImportMgsm_SavedSuite_LoadsThroughTheSuiteParser()
    {
        // What `suite import-mgsm DIR --out FILE` writes; not invoked through the command line here, because the
        // command prints to Console.Out, which RunCommandEndToEndTests captures while running in parallel.
        var output = Path.Combine(_folder, "out", "mgsm.json");
        SuiteFile.Save(SuiteCommand.ImportMgsm(_folder, 2, 2), output);

        var suite = SuiteFile.Load(output);
        Assert.Equal("mgsm", suite.Name);
        Assert.Equal(["de", "en", "es"], suite.Tasks.Select(t => t.Id));
        Assert.Equal([EnBaker, EnSign], suite.Tasks[1].Prompts);
        Assert.Equal([EnToll, EnPencils], suite.Tasks[1].TrainingPrompts);
        Assert.Equal([EsGarden, EsBus], suite.Tasks[2].Prompts);
        Assert.Equal([EsCoins], suite.Tasks[2].TrainingPrompts);
    }

    [Theory]
    [InlineData("--per-language", "0")]
    [InlineData("--per-language", "257")]
    [InlineData("--training-per-language", "-1")]
    [InlineData("--training-per-language", "257")]
    public void Parse_PerLanguageOutOfRange_ReportsAnErrorNamingTheOption(string option, string value)
    {
        var root = new RootCommand { SuiteCommand.Create() };
        var parse = root.Parse(["suite", "import-mgsm", _folder, "--out", Path.Combine(_folder, "x.json"), option, value]);
        var error = Assert.Single(parse.Errors);
        Assert.Contains(option, error.Message);
    }
}

/// <summary>
/// The importer on the real MGSM files. They are not part of the repository: these tests run only where
/// <c>SPECFN_MGSM_DIR</c> names the folder (CI sets it; the test command excludes <c>Requires=mgsm</c> otherwise).
/// </summary>
[Trait("Requires", "mgsm")]
public sealed class MgsmSuiteImportTests
{
    [Fact]
    public void ImportMgsm_RealData_OneTaskPerLanguageWithTheFirstQuestions()
    {
        var folder = MgsmFolder();

        var suite = SuiteCommand.ImportMgsm(folder, 5);
        var files = Directory.GetFiles(folder, "mgsm_*.tsv");
        Assert.Equal(files.Length, suite.Tasks.Count);
        Assert.Equal(files.Select(f => Path.GetFileNameWithoutExtension(f)["mgsm_".Length..]).Order(StringComparer.Ordinal), suite.Tasks.Select(t => t.Id));
        Assert.All(suite.Tasks, t => Assert.Equal(5, t.Prompts.Count));
        var en = suite.Tasks.Single(t => t.Id == "en");
        Assert.Equal(File.ReadLines(Path.Combine(folder, "mgsm_en.tsv")).Take(5).Select(l => l.Split('\t')[0]), en.Prompts);
        Assert.All(suite.Tasks.SelectMany(t => t.Prompts), p => Assert.DoesNotMatch(@"[\t\r\n]", p));
    }

    [Fact]
    public void ImportMgsm_RealDataWithTraining_QuestionsAfterTheEvaluationOnesNoOverlap()
    {
        var folder = MgsmFolder();

        var suite = SuiteCommand.ImportMgsm(folder, 20, 40);

        Assert.All(suite.Tasks, t => Assert.Equal((20, 40, 0), (t.Prompts.Count, t.TrainingPrompts!.Count, Core.Mitigation.MitigationData.Overlap(t.TrainingPrompts, t.Prompts))));
        var en = suite.Tasks.Single(t => t.Id == "en");
        Assert.Equal(File.ReadLines(Path.Combine(folder, "mgsm_en.tsv")).Skip(20).Take(40).Select(l => l.Split('\t')[0].Trim()), en.TrainingPrompts);
    }

    /// <summary><c>$SPECFN_MGSM_DIR</c>, which must name an existing folder; nothing else is looked at.</summary>
    private static string MgsmFolder()
    {
        var folder = Environment.GetEnvironmentVariable("SPECFN_MGSM_DIR");
        Assert.False(string.IsNullOrEmpty(folder), "SPECFN_MGSM_DIR is not set: these tests need the MGSM data (run with --filter \"Requires!=mgsm\" without it).");
        Assert.True(Directory.Exists(folder), $"SPECFN_MGSM_DIR is '{folder}' ({Path.GetFullPath(folder)}), which is not a folder.");
        return folder;
    }
}
