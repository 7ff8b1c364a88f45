using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Storage.Tests;
using SpecFunctions.TestKit;
using Xunit.Abstractions;

namespace SpecFunctions.Cli.Tests;

/// <summary>
/// Failures of input and environment through the real entry point: one <c>specfn:</c> line, a documented exit code, no
/// stack trace unless <c>--verbose</c>. Tiny real ONNX model folders, real temp folders.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class CliFailureTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly string _root = Directory.CreateTempSubdirectory("specfn-cli-failures-").FullName;

    public CliFailureTests(ITestOutputHelper output)
    {
        _output = output;
        TinyWindowModelBuilder.WriteModelFolder(Path.Combine(_root, "verifier"), window: 8, seed: 1, name: "tiny-verifier");
        TinyWindowModelBuilder.WriteModelFolder(Path.Combine(_root, "drafter"), window: 4, seed: 2, name: "tiny-drafter");
        File.WriteAllText(SuitePath, """{ "name": "h", "tasks": [ { "id": "en", "prompts": ["hello world, this is"] }, { "id": "de", "prompts": ["guten tag, wie geht"] } ] }""");
    }

    private string SuitePath => Path.Combine(_root, "suite.json");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string[] Run(params string[] extra) =>
        ["run", "--suite", SuitePath, "--verifier", Path.Combine(_root, "verifier"), "--drafter", Path.Combine(_root, "drafter"), "--max-new-tokens", "8", .. extra];

    private async Task<(int Exit, string Out, string Error)> InvokeAsync(params string[] args)
    {
        var result = await CliHarness.RunAsync(args);
        _output.WriteLine($"exit {result.Exit}\n--- stdout\n{result.Out}\n--- stderr\n{result.Error}");
        return result;
    }

    /// <summary>The failure contract: the exit code, no stack trace anywhere, the last stderr line one specfn: message.</summary>
    private static string AssertOneLineFailure((int Exit, string Out, string Error) result, int exit)
    {
        Assert.Equal(exit, result.Exit);
        Assert.False(CliHarness.HasStackTrace(result.Out + result.Error), "a stack trace was printed");
        var last = CliHarness.Lines(result.Error)[^1];
        Assert.StartsWith("specfn: ", last, StringComparison.Ordinal);
        return last;
    }

    [Theory]
    [InlineData("run")]
    [InlineData("estimate")]
    public async Task RunAndEstimate_SuiteFileWithAnEmptyTask_TheLoadersOneLineExit2NothingWritten(string command)
    {
        var suite = Path.Combine(_root, "bad.json");
        File.WriteAllText(suite, """{ "name": "h", "tasks": [ { "id": "en", "prompts": [] } ] }""");
        var store = Path.Combine(_root, "store");
        var problem = Assert.Throws<FormatException>(() => SuiteFile.Load(suite)).Message;

        var result = await InvokeAsync(command, "--suite", suite, "--verifier", Path.Combine(_root, "verifier"), "--drafter", Path.Combine(_root, "drafter"), "--store", store);

        var line = AssertOneLineFailure(result, ExitCodes.Usage);
        Assert.Equal($"specfn: {problem}", Assert.Single(CliHarness.Lines(result.Error)));
        Assert.StartsWith($"specfn: suite file '{suite}'", line, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Out);
        Assert.False(Directory.Exists(store), "the store folder was created");
    }

    [Fact]
    public async Task SuiteImportMgsm_MissingFolder_OneLineExit2NoFile()
    {
        var folder = Path.Combine(_root, "no-mgsm");
        var output = Path.Combine(_root, "mgsm.json");

        var result = await InvokeAsync("suite", "import-mgsm", folder, "--out", output);

        AssertOneLineFailure(result, ExitCodes.Usage);
        Assert.Equal($"specfn: MGSM folder '{folder}' not found", Assert.Single(CliHarness.Lines(result.Error)));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Run_StoreBelowAPlainFile_OneLineExit1()
    {
        File.WriteAllText(Path.Combine(_root, "afile"), "x");

        var line = AssertOneLineFailure(await InvokeAsync(Run("--store", Path.Combine(_root, "afile", "store"), "--out", Path.Combine(_root, "out"))), ExitCodes.Failure);

        Assert.Contains(Path.Combine(_root, "afile"), line);
    }

    [Fact]
    public async Task Run_OutBelowAPlainFile_OneLineExit1()
    {
        File.WriteAllText(Path.Combine(_root, "afile"), "x");

        var line = AssertOneLineFailure(await InvokeAsync(Run("--store", Path.Combine(_root, "store"), "--out", Path.Combine(_root, "afile", "out"))), ExitCodes.Failure);

        Assert.Contains(Path.Combine(_root, "afile"), line);
    }

    [Fact]
    public async Task Run_MissingModelOnnx_OneLineNamingTheFile_VerboseAddsTheDetails()
    {
        var model = Path.Combine(_root, "verifier", "model.onnx");
        File.Delete(model);

        var line = AssertOneLineFailure(await InvokeAsync(Run("--store", Path.Combine(_root, "store"))), ExitCodes.Failure);
        var verbose = await InvokeAsync(Run("--store", Path.Combine(_root, "store"), "--verbose"));

        Assert.Equal($"specfn: {model}: model file not found", line);
        Assert.Equal(ExitCodes.Failure, verbose.Exit);
        Assert.StartsWith(line, verbose.Error, StringComparison.Ordinal);
        Assert.Contains("ModelLoadException", verbose.Error);
        Assert.True(CliHarness.HasStackTrace(verbose.Error), "--verbose printed no details");
    }

    [Fact]
    public async Task Run_WrongVocabularySize_OneLineExit1()
    {
        EditManifest("drafter", json => json["vocabularySize"] = 300);

        var line = AssertOneLineFailure(await InvokeAsync(Run("--store", Path.Combine(_root, "store"))), ExitCodes.Failure);

        Assert.Contains("300", line);
    }

    [Fact]
    public async Task Run_ModelFileOutsideTheFolder_RefusedOneLine()
    {
        Directory.CreateDirectory(Path.Combine(_root, "outside"));
        File.Move(Path.Combine(_root, "drafter", "model.onnx"), Path.Combine(_root, "outside", "model.onnx"));
        EditManifest("drafter", json => json["modelFile"] = "../outside/model.onnx");

        var line = AssertOneLineFailure(await InvokeAsync(Run("--store", Path.Combine(_root, "store"))), ExitCodes.Failure);

        Assert.Contains("'modelFile' must be a relative path inside the model folder, got '../outside/model.onnx'", line);
    }

    [Theory]
    [InlineData("not a connection string")]
    [InlineData("AccountName=x;AccountKey=%%%")]
    public async Task Run_MalformedBlobConnection_UsageExit2(string connection)
    {
        var line = AssertOneLineFailure(await InvokeAsync(Run("--blob-connection", connection)), ExitCodes.Usage);

        Assert.StartsWith("specfn: --blob-connection: the blob connection string is malformed", line, StringComparison.Ordinal);
        Assert.DoesNotContain(connection, line);
    }

    [Fact]
    public async Task Report_BlobEndpointRefusing_SaysItRetriesThenGivesUpWithinTheBound()
    {
        // A port nothing listens on: the fixture's free-port finder, with the listener already closed.
        var port = AzuriteFixture.FreePort();

        var connection = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AzuriteFixture.AccountKey};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1";
        (int, string, string) result;
        var clock = Stopwatch.StartNew();
        Environment.SetEnvironmentVariable("TraceStore__MaxRetries", "2");
        Environment.SetEnvironmentVariable("TraceStore__RetryDelay", "00:00:00.2");
        try
        {
            result = await InvokeAsync("report", "some-run", "--blob-connection", connection);
        }
        finally
        {
            Environment.SetEnvironmentVariable("TraceStore__MaxRetries", null);
            Environment.SetEnvironmentVariable("TraceStore__RetryDelay", null);
        }

        var line = AssertOneLineFailure(result, ExitCodes.Failure);
        var notice = Assert.Single(CliHarness.Lines(result.Item3), l => l.Contains("is not answering; retrying", StringComparison.Ordinal));
        Assert.StartsWith($"specfn: blob storage at http://127.0.0.1:{port}/devstoreaccount1/speculative-evals is not answering", notice, StringComparison.Ordinal);
        Assert.Contains("after 3 attempts", line);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Run_CommittedTraceVanished_RerunExitsNonZeroNamesTheTask_ThenANextRunRecovers()
    {
        var store = Path.Combine(_root, "store");
        var first = await InvokeAsync(Run("--store", store, "--out", Path.Combine(_root, "out"), "--run-id", "gone"));
        Assert.Equal(ExitCodes.Ok, first.Exit);
        File.Delete(Path.Combine(store, TraceStoreLayout.Trace("gone", "de")));

        var second = await InvokeAsync(Run("--store", store, "--out", Path.Combine(_root, "out"), "--run-id", "gone", "--json"));

        Assert.Equal(ExitCodes.Failure, second.Exit);
        Assert.Equal("specfn: 1 task(s) failed (de); U covers the other tasks only", CliHarness.Lines(second.Error)[^1]);
        using (var document = JsonDocument.Parse(second.Out))
        {
            var failed = Assert.Single(document.RootElement.GetProperty("failedTasks").EnumerateArray());
            Assert.Equal("de", failed.GetProperty("taskId").GetString());
            Assert.Contains("missing", failed.GetProperty("error").GetString());
        }

        var report = (await ReportPublisher.ReadAsync(TraceStore.OpenFolder(store), "gone"))!;
        Assert.Equal(["en"], report.Tasks.Select(t => t.TaskId));
        Assert.Equal(("de", TaskState.Failed), (report.IncompleteTasks.Single().TaskId, report.IncompleteTasks.Single().Status));

        var recomputed = await InvokeAsync("report", "gone", "--store", store, "--recompute", "--json");
        Assert.Equal(ExitCodes.Failure, recomputed.Exit);
        Assert.Equal("de", EvaluationReport.FromJson(recomputed.Out).IncompleteTasks.Single().TaskId);
        Assert.Equal("specfn: run 'gone' is incomplete: 1 failed task(s) (de) are left out of U", CliHarness.Lines(recomputed.Error)[^1]);

        // The loss is recorded: the next run of the same id evaluates the task again.
        var third = await InvokeAsync(Run("--store", store, "--out", Path.Combine(_root, "out"), "--run-id", "gone"));
        Assert.Equal(ExitCodes.Ok, third.Exit);
        Assert.Equal(["de", "en"], (await ReportPublisher.ReadAsync(TraceStore.OpenFolder(store), "gone"))!.Tasks.Select(t => t.TaskId).Order());
    }

    [Fact]
    public async Task Report_StagingLeftoverInTheStore_Ignored()
    {
        var store = Path.Combine(_root, "store");
        Assert.Equal(ExitCodes.Ok, (await InvokeAsync(Run("--store", store, "--out", Path.Combine(_root, "out"), "--run-id", "left"))).Exit);
        var trace = Path.Combine(store, TraceStoreLayout.Trace("left", "en"));
        File.WriteAllBytes($"{trace}.{Guid.NewGuid():N}.specfn-tmp", [1, 2, 3]);

        var report = await InvokeAsync("report", "left", "--store", store, "--recompute", "--json");

        Assert.Equal(ExitCodes.Ok, report.Exit);
        Assert.Equal(["de", "en"], EvaluationReport.FromJson(report.Out).Tasks.Select(t => t.TaskId).Order());
    }

    private void EditManifest(string model, Action<JsonObject> edit)
    {
        var path = Path.Combine(_root, model, ModelManifest.FileName);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }
}
