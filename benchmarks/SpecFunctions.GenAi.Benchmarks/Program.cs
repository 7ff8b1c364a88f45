using System.CommandLine;
using SpecFunctions.Demo;
using SpecFunctions.GenAi.Benchmarks;
using SpecFunctions.Onnx;
using SpecFunctions.Training;

// Our engine beside ONNX Runtime GenAI on the same pair and prompts, in one process and one run (docs/benchmarks.md).
var gamma = new Option<int>("--gamma") { Description = "Draft length γ of our engine and GenAI's max_draft_tokens (1..16)", DefaultValueFactory = _ => 4 };
var prompts = new Option<int>("--prompts") { Description = "Held-out prompts per language", DefaultValueFactory = _ => 20 };
var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Token budget per prompt: every arm generates exactly this many tokens", DefaultValueFactory = _ => 64 };
var stopAtEos = new Option<bool>("--stop-at-eos") { Description = "Let the verifier's end-of-sequence token end a generation (then prompts do unequal work)" };
var repeats = new Option<int>("--repeats") { Description = "Timed repeats per prompt and arm; the fastest is kept", DefaultValueFactory = _ => 3 };
var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads per session, both runtimes (0 = the product's and GenAI's default: half the logical processors)", DefaultValueFactory = _ => 0 };
var adaptive = new Option<int>("--adaptive-min-k") { Description = "Start and floor of GenAI's adaptive K, measured beside our per-language γ* (0 leaves both arms out)", DefaultValueFactory = _ => 1 };
var languages = new Option<string[]>("--languages") { Description = "Languages to measure (default: all six demo languages)", AllowMultipleArgumentsPerToken = true };
var models = new Option<string>("--models") { Description = "Folder of the transformer demo pair (trained there on first use)", DefaultValueFactory = _ => TransformerModels.DefaultRoot };
var verifierOption = new Option<string?>("--verifier") { Description = "A verifier model folder with genai_config.json (with --drafter; instead of the demo pair)" };
var drafterOption = new Option<string?>("--drafter") { Description = "A drafter model folder with genai_config.json (with --verifier)" };
var tokenizerOption = new Option<string?>("--tokenizer") { Description = "A tokenizer.json both models use instead of their folders' own (for an export whose tokenizer does not match its graph; with --verifier)" };
var results = new Option<string?>("--results") { Description = "Append the Markdown results to this file" };
var root = new RootCommand("ONNX Runtime GenAI side by side with the SpecFunctions engine (greedy, same token ids, one process)")
{
    gamma, prompts, maxNewTokens, stopAtEos, repeats, threads, adaptive, languages, models, verifierOption, drafterOption, tokenizerOption, results,
};
root.Validators.Add(r =>
{
    if (r.GetValue(verifierOption) is null != r.GetValue(drafterOption) is null)
    {
        r.AddError("--verifier and --drafter go together");
    }

    if (r.GetValue(tokenizerOption) is { } tokenizerFile && (r.GetValue(verifierOption) is null || !File.Exists(tokenizerFile)))
    {
        r.AddError(r.GetValue(verifierOption) is null ? "--tokenizer goes with --verifier and --drafter" : $"--tokenizer: no file '{tokenizerFile}'");
    }

    var unknown = (r.GetValue(languages) ?? []).Except(DemoCorpus.Tasks.Select(t => t.Id)).ToList();
    if (unknown.Count > 0)
    {
        r.AddError($"unknown language(s) {string.Join(", ", unknown)}; the demo corpus has {string.Join(", ", DemoCorpus.Tasks.Select(t => t.Id))}");
    }
});
root.SetAction(async (parse, cancellationToken) =>
{
    var settings = new SideBySideSettings
    {
        Gamma = parse.GetValue(gamma),
        Prompts = parse.GetValue(prompts),
        MaxNewTokens = parse.GetValue(maxNewTokens),
        IgnoreEos = !parse.GetValue(stopAtEos),
        TokenizerFile = parse.GetValue(tokenizerOption) is { } t ? Path.GetFullPath(t) : null,
        Repeats = parse.GetValue(repeats),
        Threads = parse.GetValue(threads),
        AdaptiveMinK = parse.GetValue(adaptive),
    };
    try
    {
        settings.Validate();
    }
    catch (ArgumentOutOfRangeException ex)
    {
        Console.Error.WriteLine($"specfn-genai-bench: {ex.Message}");
        return 2;
    }

    string verifierFolder, drafterFolder;
    if (parse.GetValue(verifierOption) is { } v && parse.GetValue(drafterOption) is { } d)
    {
        (verifierFolder, drafterFolder) = (Path.GetFullPath(v), Path.GetFullPath(d));
    }
    else
    {
        var folder = parse.GetValue(models)!;
        Console.WriteLine($"Preparing the transformer demo pair in {folder} ...");
        var pair = await TransformerModels.EnsureAsync(folder, progress: DemoTrainingProgress.LogTo(Console.Out), cancellationToken: cancellationToken);
        (verifierFolder, drafterFolder) = (pair.VerifierDirectory, pair.DrafterDirectory);
    }

    var wanted = parse.GetValue(languages) is { Length: > 0 } chosen ? chosen.ToHashSet() : null;
    var tasks = DemoCorpus.Tasks.Where(t => wanted is null || wanted.Contains(t.Id)).Select(t => (t.Id, t.Prompts)).ToList();
    var work = Path.Combine(Path.GetTempPath(), "specfn-genai-bench-" + Guid.NewGuid().ToString("N")[..12]);
    try
    {
        Console.WriteLine($"Measuring {tasks.Count} language(s) × {settings.Prompts} prompts, {settings.Repeats} repeats per arm ...");
        SideBySideResult result;
        try
        {
            result = await SideBySide.RunAsync(verifierFolder, drafterFolder, tasks, settings, work, Console.Out, cancellationToken);
        }
        catch (Exception ex) when (ex is ModelLoadException or InvalidDataException or FileNotFoundException or Microsoft.ML.OnnxRuntimeGenAI.OnnxRuntimeGenAIException)
        {
            // A folder either runtime cannot use: one line naming it, as specfn does, not a stack trace.
            Console.Error.WriteLine($"specfn-genai-bench: refused: {ex.Message}");
            return 2;
        }

        var lines = SideBySideReport.Render(result, EnvironmentLine());
        Console.WriteLine();
        foreach (var line in lines)
        {
            Console.WriteLine(line);
        }

        SideBySideReport.WriteCharts(result, Spectre.Console.AnsiConsole.Console);
        if (parse.GetValue(results) is { } file)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
            await File.AppendAllLinesAsync(file, [.. lines, string.Empty], cancellationToken);
        }

        // The agreement check is the benchmark's pass/fail: a speed-up over different tokens measures nothing.
        return result.Disagreements.Count == 0 ? 0 : 1;
    }
    finally
    {
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }
    }
});
return await root.Parse(args).InvokeAsync();

static string EnvironmentLine()
{
    var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
    // The GenAI assembly carries no version attribute: the package versions come from this app's deps.json.
    var deps = AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string is { } files && files.Split(';')[0] is var path && File.Exists(path) ? File.ReadAllText(path) : "";
    string Version(string package) => System.Text.RegularExpressions.Regex.Match(deps, $"\"{System.Text.RegularExpressions.Regex.Escape(package)}/([^\"]+)\"") is { Success: true } m ? m.Groups[1].Value : "?";
    return $"ONNX Runtime {Version("Microsoft.ML.OnnxRuntime")} (CPU provider, both runtimes), ONNX Runtime GenAI {Version("Microsoft.ML.OnnxRuntimeGenAI")}, {System.Environment.ProcessorCount} logical CPU(s), 1-minute load {load}";
}
