using System.CommandLine;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Cli.Commands;

/// <summary>
/// <c>specfn suite import-mgsm DIR --out FILE [--per-language N] [--training-per-language M]</c>: one task per MGSM
/// language file; the first N questions are its evaluation prompts, the next M its training prompts (disjoint).
/// </summary>
internal static class SuiteCommand
{
    public static Command Create()
    {
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "Folder with mgsm_<lang>.tsv files (question<TAB>answer per line)" };
        var output = new Option<FileInfo>("--out") { Description = "Suite JSON file to write", Required = true };
        var perLanguage = new Option<int>("--per-language") { Description = "Questions per language (first N), 1..256", DefaultValueFactory = _ => 20 };
        perLanguage.Require(v => v is >= 1 and <= 256, "--per-language must be in 1..256");
        var trainingPerLanguage = new Option<int>("--training-per-language")
        {
            Description = "Training prompts per language for mitigation: the questions after the evaluation ones, never an evaluation question; 0..256 (0: none, and a mitigation is refused)",
            DefaultValueFactory = _ => 20,
        };
        trainingPerLanguage.Require(v => v is >= 0 and <= 256, "--training-per-language must be in 0..256");

        var import = new Command("import-mgsm", "Build a suite from MGSM TSV files: one task per language, the first questions as prompts, the next ones as training prompts.")
        {
            dir, output, perLanguage, trainingPerLanguage,
        };
        import.SetAction(parse =>
        {
            // Files that cannot be imported throw FormatException: one line, exit 2 (CliErrors), nothing written.
            var suite = ImportMgsm(parse.GetValue(dir)!.FullName, parse.GetValue(perLanguage), parse.GetValue(trainingPerLanguage));
            SuiteFile.Save(suite, parse.GetValue(output)!.FullName);
            Console.WriteLine($"Wrote {parse.GetValue(output)!.FullName}: {suite.Tasks.Count} tasks, evaluation + training prompts ({string.Join(", ", suite.Tasks.Select(t => $"{t.Id} {t.Prompts.Count}+{t.TrainingPrompts?.Count ?? 0}"))})");
            var untrained = suite.Tasks.Where(t => t.TrainingPrompts is not { Count: > 0 }).Select(t => t.Id).ToList();
            if (untrained.Count > 0)
            {
                Console.Error.WriteLine($"specfn: no training prompts for {string.Join(", ", untrained)}: `specfn mitigate` will refuse this suite (use --training-per-language N with questions to spare)");
            }

            return ExitCodes.Ok;
        });

        return new Command("suite", "Suite files.") { import };
    }

    /// <summary>
    /// Reads <c>mgsm_&lt;lang&gt;.tsv</c> files; the language code becomes the task id. The first
    /// <paramref name="perLanguage"/> questions are the task's prompts; the next <paramref name="trainingPerLanguage"/>
    /// questions that are not also one of them (MGSM repeats none, but a file might) are its training prompts.
    /// </summary>
    public static SuiteDefinition ImportMgsm(string folder, int perLanguage, int trainingPerLanguage = 0)
    {
        if (!Directory.Exists(folder))
        {
            throw new FormatException($"MGSM folder '{folder}' not found");
        }

        var tasks = new List<SuiteTask>();
        foreach (var file in Directory.GetFiles(folder, "mgsm_*.tsv").Order(StringComparer.Ordinal))
        {
            var id = Path.GetFileNameWithoutExtension(file)["mgsm_".Length..].ToLowerInvariant();
            if (!StoreIds.IsValid(id))
            {
                throw new FormatException($"'{Path.GetFileName(file)}': language code '{id}' is not a valid task id");
            }

            var questions = File.ReadLines(file)
                .Select(line => line.Split('\t')[0].Trim())
                .Where(q => q.Length > 0)
                .ToList();
            var prompts = questions.Take(perLanguage).ToList();
            var evaluated = new HashSet<string>(prompts, StringComparer.Ordinal);
            var training = questions.Skip(prompts.Count).Where(q => !evaluated.Contains(q)).Take(trainingPerLanguage).ToList();
            if (prompts.Count > 0)
            {
                tasks.Add(new SuiteTask { Id = id, Prompts = prompts, TrainingPrompts = training.Count > 0 ? training : null });
            }
        }

        return tasks.Count > 0
            ? new SuiteDefinition { Name = "mgsm", Tasks = tasks }
            : throw new FormatException($"no mgsm_<lang>.tsv file with questions in '{folder}'");
    }
}
