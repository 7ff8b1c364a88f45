using SpecFunctions.OnnxGraphs;

namespace SpecFunctions.Cli.Tests;

/// <summary>
/// <c>specfn models inspect</c> and <c>specfn run</c> on folders as exporters write them (no <c>specfn-model.json</c>):
/// graphs from the product's builder with a <c>genai_config.json</c> and a byte-level <c>tokenizer.json</c>, in temporary folders.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class ModelsInspectCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("specfn-cli-inspect-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Inspect_Gpt2StyleExport_PrintsTheDerivedDescription()
    {
        var folder = TinyTransformerBuilder.WriteExportFolder(Path.Combine(_root, "gpt2"), new TinyTransformerConfig { CombinedCache = true, Float16 = true });

        var (exit, stdout, stderr) = await CliHarness.RunAsync("models", "inspect", folder);

        Assert.Equal(0, exit);
        Assert.Equal(string.Empty, stderr);
        var lines = CliHarness.Lines(stdout);
        Assert.Contains("source      genai_config.json (derived; no specfn-model.json)", lines);
        Assert.Contains("family      gpt2", lines);
        Assert.Contains("format      decoder-with-past", lines);
        Assert.Contains("dtype       cache float16, logits float16", lines);
        Assert.Contains("cache       combined: 2 layers × past_0… [2, 1, 2, past, 16] (key, value)", lines);
        Assert.Contains($"tokenizer   hf-tokenizer-json (byte-level BPE, 260 ids) from {Path.Combine(folder, "tokenizer.json")}", lines);
        Assert.Contains("vocabulary  260", lines);
        Assert.Contains("context     1,024", lines);
        Assert.Contains("eos ids     257", lines);
        Assert.Contains("bos id      none", lines);
    }

    [Fact]
    public async Task Inspect_SeparateCacheExport_PrintsItsLayout()
    {
        var folder = TinyTransformerBuilder.WriteExportFolder(Path.Combine(_root, "decoder"), new TinyTransformerConfig { Layers = 3 });

        var (exit, stdout, _) = await CliHarness.RunAsync("models", "inspect", folder);

        Assert.Equal(0, exit);
        var lines = CliHarness.Lines(stdout);
        Assert.Contains("family      decoder", lines);
        Assert.Contains("dtype       cache float32, logits float32", lines);
        Assert.Contains("cache       separate: 3 layers × past_key_values.0.key, past_key_values.0.value… [1, 2, past, 16]", lines);
    }

    [Theory]
    [InlineData("unknown-type", "unsupported model type 'whisper'")]
    [InlineData("missing-tokenizer", "missing tokenizer: the folder has no tokenizer.json")]
    [InlineData("vocabulary-mismatch", "vocabulary mismatch: the tokenizer has ids up to 259 but the model's vocabulary (genai_config.json) is 200")]
    [InlineData("unsupported-layout", "expected cache inputs past_0, past_1, … [2, batch, heads, past, headDim]")]
    [InlineData("no-configuration", "not a model folder")]
    public async Task Inspect_BrokenOrUnsupportedFolder_OneLineAndExit2(string kind, string reason)
    {
        var folder = TinyTransformerBuilder.WriteExportFolder(Path.Combine(_root, kind));
        var config = Path.Combine(folder, "genai_config.json");
        switch (kind)
        {
            case "unknown-type":
                File.WriteAllText(config, File.ReadAllText(config).Replace("\"decoder\",", "\"whisper\",", StringComparison.Ordinal));
                break;
            case "missing-tokenizer":
                File.Delete(Path.Combine(folder, "tokenizer.json"));
                break;
            case "vocabulary-mismatch":
                File.WriteAllText(config, File.ReadAllText(config).Replace("\"vocab_size\": 260", "\"vocab_size\": 200", StringComparison.Ordinal));
                break;
            case "unsupported-layout":
                // The configuration claims GPT-2's combined cache; the graph has separate key and value tensors.
                File.WriteAllText(config, File.ReadAllText(config).Replace("\"past_key_names\"", "\"past_names\": \"past_%d\", \"past_key_names\"", StringComparison.Ordinal));
                break;
            default:
                File.Delete(config);
                break;
        }

        var (exit, stdout, stderr) = await CliHarness.RunAsync("models", "inspect", folder);

        Assert.Equal(2, exit);
        Assert.Equal(string.Empty, stdout);
        var line = Assert.Single(CliHarness.Lines(stderr));
        Assert.StartsWith("specfn: refused: ", line, StringComparison.Ordinal);
        Assert.Contains(reason, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_TokenizerOption_ReplacesAFolderTokenizerThatDoesNotFitTheGraph()
    {
        var folder = TinyTransformerBuilder.WriteExportFolder(Path.Combine(_root, "big-tokenizer"));
        var matching = Path.Combine(_root, "tokenizer.json");
        File.Copy(Path.Combine(folder, "tokenizer.json"), matching);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), TinyTransformerBuilder.ByteLevelTokenizerJson(300));

        var (refusedExit, _, refused) = await CliHarness.RunAsync("models", "inspect", folder);
        var (exit, stdout, _) = await CliHarness.RunAsync("models", "inspect", folder, "--tokenizer", matching);

        Assert.Equal(2, refusedExit);
        Assert.Contains("vocabulary mismatch: the tokenizer has ids up to 299 but the model's vocabulary (genai_config.json) is 260", refused, StringComparison.Ordinal);
        Assert.Equal(0, exit);
        Assert.Contains($"tokenizer   hf-tokenizer-json (byte-level BPE, 260 ids) from {matching}", CliHarness.Lines(stdout));
    }

    [Fact]
    public async Task Run_ExportFoldersWithoutManifest_CompletesWithTheGivenTokenizer()
    {
        // A combined-cache verifier and a one-layer drafter, both as exporters write them; the drafter's folder holds a
        // tokenizer with more ids than its graph, so the run needs --tokenizer (the GPT-2 test exports' situation).
        var verifier = TinyTransformerBuilder.WriteExportFolder(Path.Combine(_root, "verifier"), new TinyTransformerConfig { CombinedCache = true });
        var drafter = TinyTransformerBuilder.WriteExportFolder(Path.Combine(_root, "drafter"), new TinyTransformerConfig { CombinedCache = true, Float16 = true, Layers = 1, Seed = 2 });
        File.WriteAllText(Path.Combine(drafter, "tokenizer.json"), TinyTransformerBuilder.ByteLevelTokenizerJson(300));
        var suite = Path.Combine(_root, "suite.json");
        File.WriteAllText(suite, """{ "name": "export", "tasks": [ { "id": "en", "prompts": ["hello world, this is"] }, { "id": "ru", "prompts": ["привет, мир"] } ] }""");
        string[] common = ["run", "--suite", suite, "--verifier", verifier, "--drafter", drafter, "--temperature", "0", "--max-new-tokens", "12",
            "--ignore-eos", "--repeats", "1", "--store", Path.Combine(_root, "store"), "--out", Path.Combine(_root, "out"), "--json"];

        var (refusedExit, _, refused) = await CliHarness.RunAsync(common);
        var (exit, stdout, stderr) = await CliHarness.RunAsync([.. common, "--tokenizer", Path.Combine(verifier, "tokenizer.json")]);

        Assert.Equal(1, refusedExit); // a model folder that cannot be used fails the run (exit 1), before anything starts
        Assert.Contains("vocabulary mismatch", Assert.Single(CliHarness.Lines(refused)), StringComparison.Ordinal);
        Assert.True(exit == 0, stderr);
        using var report = System.Text.Json.JsonDocument.Parse(stdout);
        var tasks = report.RootElement.GetProperty("report").GetProperty("tasks").EnumerateArray().ToList();
        Assert.Equal(["en", "ru"], tasks.Select(t => t.GetProperty("taskId").GetString()));
        Assert.All(tasks, t => Assert.Equal(12, t.GetProperty("generatedTokens").GetInt64()));
    }
}
