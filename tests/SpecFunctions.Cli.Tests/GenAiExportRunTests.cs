using System.Text.Json;

namespace SpecFunctions.Cli.Tests;

/// <summary>
/// <c>specfn run</c> and <c>specfn models inspect</c> on ONNX Runtime GenAI's own test exports, read as they are (no
/// <c>specfn-model.json</c>): the GPT-2 pair (fp32 verifier, fp16 drafter, the fp16 folder's tokenizer, which matches the
/// graphs) and the model builder's float16 Llama as both models. Trait <c>Requires=genai-models</c>: the folders are not
/// part of the repository; <c>$SPECFN_GENAI_MODELS_DIR</c> names the folder holding them (switched on by <c>.ci/run</c>).
/// </summary>
[Collection(ConsoleCollection.Name)]
[Trait("Requires", "genai-models")]
public sealed class GenAiExportRunTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("specfn-cli-genai-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string Models
    {
        get
        {
            var folder = Environment.GetEnvironmentVariable("SPECFN_GENAI_MODELS_DIR");
            Assert.False(string.IsNullOrEmpty(folder), "SPECFN_GENAI_MODELS_DIR is not set: this test needs ONNX Runtime GenAI's test models (run with --filter \"Requires!=genai-models\" without them).");
            return folder;
        }
    }

    [Theory]
    [InlineData("tiny-random-gpt2-fp32", "tiny-random-gpt2-fp16", "tiny-random-gpt2-fp16")]
    [InlineData("tiny-random-LlamaForCausalLM-fp16", "tiny-random-LlamaForCausalLM-fp16", null)]
    public async Task Run_OnTheExportsAsTheyAre_GeneratesEveryTaskWholly(string verifier, string drafter, string? tokenizerFolder)
    {
        var suite = Path.Combine(_root, "suite.json");
        File.WriteAllText(suite, """
            { "name": "exports", "tasks": [
              { "id": "en", "prompts": ["The quick brown fox jumps over the lazy dog.", "Janet's ducks lay 16 eggs per day."] },
              { "id": "ru", "prompts": ["Быстрая коричневая лиса прыгает через ленивую собаку.", "Привет, мир"] } ] }
            """);
        string[] args = ["run", "--suite", suite, "--verifier", Path.Combine(Models, verifier), "--drafter", Path.Combine(Models, drafter),
            "--temperature", "0", "--max-new-tokens", "16", "--ignore-eos", "--repeats", "1",
            "--store", Path.Combine(_root, "store"), "--out", Path.Combine(_root, "out"), "--json"];
        if (tokenizerFolder is not null)
        {
            args = [.. args, "--tokenizer", Path.Combine(Models, tokenizerFolder, "tokenizer.json")];
        }

        var (exit, stdout, stderr) = await CliHarness.RunAsync(args);

        Assert.True(exit == 0, stderr);
        using var document = JsonDocument.Parse(stdout);
        var tasks = document.RootElement.GetProperty("report").GetProperty("tasks").EnumerateArray().ToList();
        Assert.Equal(["en", "ru"], tasks.Select(t => t.GetProperty("taskId").GetString()));
        Assert.All(tasks, t => Assert.Equal(2 * 16, t.GetProperty("generatedTokens").GetInt64()));
    }

    [Fact]
    public async Task Inspect_Fp32FolderWithItsOwnTokenizer_IsRefusedInOneLine()
    {
        var (exit, _, stderr) = await CliHarness.RunAsync("models", "inspect", Path.Combine(Models, "tiny-random-gpt2-fp32"));

        Assert.Equal(2, exit);
        Assert.Contains("vocabulary mismatch: the tokenizer has ids up to 50294 but the model's vocabulary (genai_config.json) is 1000",
            Assert.Single(CliHarness.Lines(stderr)), StringComparison.Ordinal);
    }
}
