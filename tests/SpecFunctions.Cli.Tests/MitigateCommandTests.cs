using System.Text.Json;
using System.Text.Json.Nodes;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Cli.Tests;

/// <summary>
/// <c>specfn mitigate</c> on stored runs it must not mitigate: one line on stderr naming what to do, exit 2, no stack
/// trace, nothing trained. The runs are manifests in a real local store, as <c>specfn run</c> leaves them.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class MitigateCommandTests : IDisposable
{
    private readonly string _store = Directory.CreateTempSubdirectory("specfn-cli-mitigate-").FullName;

    public void Dispose() => Directory.Delete(_store, recursive: true);

    private async Task StoreRunAsync(string runId, string verifier, string drafter, bool withTraining)
    {
        var request = new EvaluationRequest
        {
            RunId = runId,
            Suite = new SuiteDefinition
            {
                Name = "mgsm",
                Tasks = [
                    new SuiteTask { Id = "ja", Prompts = ["問題 1", "問題 2"], TrainingPrompts = withTraining ? ["問題 3"] : null },
                    new SuiteTask { Id = "zh", Prompts = ["问题 1"], TrainingPrompts = withTraining ? ["问题 2", "问题 3"] : null },
                ],
            },
            Verifier = verifier,
            Drafter = drafter,
        };
        var identity = new ModelIdentity { Name = "m", Sha256 = new string('a', 64) };
        await new TraceStore(new LocalFolderObjectStore(_store)).CreateRunAsync(new RunManifest
        {
            RunId = runId,
            Submission = JsonSerializer.SerializeToNode(request, EvaluationDefaults.Json) as JsonObject,
            Drafter = identity,
            Verifier = identity,
            Settings = new RunSettings { Gamma = 4, MaxNewTokens = 8 },
        });
    }

    // Through the CLI's entry point: the command's refusals go through its one error policy (SpecfnCli, CliErrors).
    private Task<(int Exit, string Out, string Error)> MitigateAsync(params string[] args) =>
        CliHarness.RunAsync(["mitigate", .. args, "--store", _store, "--models", Path.Combine(_store, "no-models")]);

    [Fact]
    public async Task Mitigate_RunOfSpecfnRunWithoutModelOptions_OneLineNamingTheOptionsExit2()
    {
        await StoreRunAsync("own-models", "verifier", "drafter", withTraining: true);

        var (exit, stdout, stderr) = await MitigateAsync("own-models");

        Assert.Equal(2, exit);
        Assert.Equal(
            "specfn: run 'own-models' was evaluated on its own models (verifier 'verifier', drafter 'drafter'): pass --verifier DIR --drafter DIR, the model folders given to `specfn run`"
            + Environment.NewLine,
            stderr);
        Assert.Equal("", stdout);
        Assert.False(Directory.Exists(Path.Combine(_store, "no-models")), "the demo pair was built for a run that does not use it");
    }

    [Fact]
    public async Task Mitigate_OnlyOneModelOption_OneLineAskingForBothExit2()
    {
        await StoreRunAsync("one-model", "verifier", "drafter", withTraining: true);

        var (exit, _, stderr) = await MitigateAsync("one-model", "--verifier", _store);

        Assert.Equal(2, exit);
        Assert.Equal(
            "specfn: pass both --verifier DIR and --drafter DIR (the model folders the run was evaluated on), or neither for a run of the demo pair" + Environment.NewLine,
            stderr);
    }

    [Fact]
    public async Task Mitigate_SuiteWithoutTrainingPrompts_RefusedBeforeAnyModelIsLoadedExit2()
    {
        await StoreRunAsync("imported", "demo-verifier", "demo-drafter", withTraining: false);

        var (exit, stdout, stderr) = await MitigateAsync("imported");

        Assert.Equal(2, exit);
        Assert.Equal(
            "specfn: run 'imported': mitigation refused: tasks 'ja', 'zh' have no training prompts, and corrective data never comes from evaluation prompts; "
            + "give every task \"trainingPrompts\" disjoint from its \"prompts\" (for MGSM: specfn suite import-mgsm --training-per-language N)" + Environment.NewLine,
            stderr);
        Assert.Equal("", stdout);
        Assert.False(Directory.Exists(Path.Combine(_store, "no-models")), "the demo pair was built for a refused mitigation");
    }

    [Fact]
    public async Task Mitigate_UnknownRun_OneLineNamingTheStoreExit2()
    {
        var (exit, stdout, stderr) = await MitigateAsync("no-such-run");

        Assert.Equal(2, exit);
        Assert.Equal($"specfn: run 'no-such-run' not found in {new TraceStore(new LocalFolderObjectStore(_store)).Location}" + Environment.NewLine, stderr);
        Assert.Equal("", stdout);
        Assert.False(Directory.Exists(Path.Combine(_store, "no-models")));
    }
}
