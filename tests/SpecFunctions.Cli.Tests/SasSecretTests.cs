using Azure.Storage.Blobs;
using SpecFunctions.Storage.Tests;
using SpecFunctions.TestKit;
using Xunit.Abstractions;

namespace SpecFunctions.Cli.Tests;

/// <summary>
/// A SAS connection string against a real Azurite: <c>run</c>, <c>report</c> and <c>mitigate</c> through the CLI, then
/// everything printed, every report file written and every blob stored is scanned for the token's signature.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class SasSecretTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly AzuriteFixture _azurite = new();
    private string _root = null!;

    public async Task InitializeAsync()
    {
        await _azurite.InitializeAsync();
        _root = Directory.CreateTempSubdirectory("specfn-cli-sas-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _azurite.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task RunReportMitigate_SasConnectionString_NoSignatureInOutputFilesOrBlobs()
    {
        var verifier = TinyWindowModelBuilder.WriteModelFolder(Path.Combine(_root, "verifier"), window: 8, seed: 1, name: "tiny-verifier");
        var drafter = TinyWindowModelBuilder.WriteModelFolder(Path.Combine(_root, "drafter"), window: 4, seed: 2, name: "tiny-drafter");
        var suite = Path.Combine(_root, "suite.json");
        File.WriteAllText(suite, """{ "name": "h", "tasks": [ { "id": "en", "prompts": ["hello world, this is"], "trainingPrompts": ["good morning, how are"] }, { "id": "de", "prompts": ["guten tag, wie geht"], "trainingPrompts": ["guten morgen, wie war"] } ] }""");
        var sas = _azurite.SasConnectionString();
        var signature = sas[sas.IndexOf("sig=", StringComparison.Ordinal)..].Split('&')[0];
        var outFolder = Path.Combine(_root, "out");

        var run = await CliHarness.RunAsync("run", "--suite", suite, "--verifier", verifier, "--drafter", drafter, "--max-new-tokens", "8", "--run-id", "sas-run", "--blob-connection", sas, "--out", outFolder);
        var report = await CliHarness.RunAsync("report", "sas-run", "--blob-connection", sas, "--html", Path.Combine(outFolder, "copy.html"));
        // The tiny models' family trains outside the process: the mitigation stores its plan (with planLocation) and
        // fails for want of a trainer, naming where the plan is.
        var mitigate = await CliHarness.RunAsync("mitigate", "sas-run", "--verifier", verifier, "--drafter", drafter, "--blob-connection", sas, "--out", outFolder);
        foreach (var (name, result) in new[] { ("run", run), ("report", report), ("mitigate", mitigate) })
        {
            output.WriteLine($"--- {name}: exit {result.Exit}\n{result.Out}\n{result.Error}");
        }

        Assert.Equal((0, 0), (run.Exit, report.Exit));
        Assert.Equal(1, mitigate.Exit);
        Assert.Contains($"(store: http://127.0.0.1:{_azurite.Port}/devstoreaccount1/speculative-evals)", run.Out);
        var printed = string.Join('\n', run.Out, run.Error, report.Out, report.Error, mitigate.Out, mitigate.Error);
        Assert.DoesNotContain("sig=", printed, StringComparison.Ordinal);
        Assert.All(Directory.GetFiles(outFolder), f => Assert.DoesNotContain("sig=", File.ReadAllText(f), StringComparison.Ordinal));

        var container = new BlobContainerClient(_azurite.ConnectionString, "speculative-evals");
        var blobs = 0;
        var plan = false;
        await foreach (var blob in container.GetBlobsAsync())
        {
            var content = (await container.GetBlobClient(blob.Name).DownloadContentAsync()).Value.Content.ToArray();
            var text = blob.Name.EndsWith(".gz", StringComparison.Ordinal)
                ? new StreamReader(new System.IO.Compression.GZipStream(new MemoryStream(content), System.IO.Compression.CompressionMode.Decompress)).ReadToEnd()
                : System.Text.Encoding.UTF8.GetString(content);
            Assert.False(text.Contains("sig=", StringComparison.Ordinal) || text.Contains(signature[4..], StringComparison.Ordinal), $"blob {blob.Name} holds the SAS signature");
            plan |= blob.Name.EndsWith("plan.json", StringComparison.Ordinal) && text.Contains($"\"planLocation\":\"http://127.0.0.1:{_azurite.Port}/devstoreaccount1/speculative-evals/runs/sas-run/", StringComparison.Ordinal);
            blobs++;
        }

        Assert.True(blobs > 5, $"only {blobs} blobs stored");
        Assert.True(plan, "no mitigation plan with a clean planLocation was stored");
    }
}
