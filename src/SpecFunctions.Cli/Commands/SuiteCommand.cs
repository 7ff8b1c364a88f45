using System.CommandLine;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Cli.Commands;

/// <summary><c>specfn suite import-mgsm DIR --out FILE [--per-language N]</c>: one task per MGSM language file.</summary>
internal static class SuiteCommand
{
    public static Command Create()
    {
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "Folder with mgsm_<lang>.tsv files (question<TAB>answer per line)" };
        var output = new Option<FileInfo>("--out") { Description = "Suite JSON file to write", Required = true };
        var perLanguage = new Option<int>("--per-language") { Description = "Questions per language (first N), 1..256", DefaultValueFactory = _ => 20 };
        perLanguage.Require(v => v is >= 1 and <= 256, "--per-language must be in 1..256");

        var import = new Command("import-mgsm", "Build a suite from MGSM TSV files: one task per language, the questions as prompts.") { dir, output, perLanguage };
        import.SetAction(parse =>
        {
            try
            {
                var suite = ImportMgsm(parse.GetValue(dir)!.FullName, parse.GetValue(perLanguage));
                SuiteFile.Save(suite, parse.GetValue(output)!.FullName);
                Console.WriteLine($"Wrote {parse.GetValue(output)!.FullName}: {suite.Tasks.Count} tasks ({string.Join(", ", suite.Tasks.Select(t => $"{t.Id} {t.Prompts.Count}"))})");
                return 0;
            }
            catch (FormatException ex)
            {
                Console.Error.WriteLine($"specfn: {ex.Message}");
                return 2;
            }
        });

        return new Command("suite", "Suite files.") { import };
    }

    /// <summary>Reads <c>mgsm_&lt;lang&gt;.tsv</c> files; the language code becomes the task id.</summary>
    public static SuiteDefinition ImportMgsm(string folder, int perLanguage)
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

            var prompts = File.ReadLines(file)
                .Select(line => line.Split('\t')[0].Trim())
                .Where(q => q.Length > 0)
                .Take(perLanguage)
                .ToList();
            if (prompts.Count > 0)
            {
                tasks.Add(new SuiteTask { Id = id, Prompts = prompts });
            }
        }

        return tasks.Count > 0
            ? new SuiteDefinition { Name = "mgsm", Tasks = tasks }
            : throw new FormatException($"no mgsm_<lang>.tsv file with questions in '{folder}'");
    }
}
