using SpecFunctions.Cli.Pairs;

namespace SpecFunctions.Cli.Tests;

/// <summary>The <c>--kind</c> / <c>--pair</c> choice between the MLP and the transformer demo pair: unknown values are refused before anything runs.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class PairKindOptionTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("specfn-pair-kind-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task ModelsDemo_UnknownKind_RefusedAndNothingWritten()
    {
        var models = Path.Combine(_root, "models");

        var (exit, _, error) = await CliHarness.RunAsync("models", "demo", "--kind", "gpt", "--out", models);

        Assert.NotEqual(0, exit);
        Assert.Contains("gpt", error, StringComparison.Ordinal);
        Assert.Contains("transformer", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(models));
        Assert.False(CliHarness.HasStackTrace(error));
    }

    [Fact]
    public async Task Audit_UnknownPair_RefusedAndNothingWritten()
    {
        var models = Path.Combine(_root, "models");
        var output = Path.Combine(_root, "out");

        var (exit, _, error) = await CliHarness.RunAsync("audit", "--pair", "rnn", "--models", models, "--out", output, "--store", Path.Combine(_root, "store"));

        Assert.NotEqual(0, exit);
        Assert.Contains("rnn", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(models));
        Assert.False(Directory.Exists(output));
        Assert.False(Directory.Exists(Path.Combine(_root, "store")));
    }

    [Fact]
    public async Task Help_NamesBothPairs()
    {
        var (exit, stdout, _) = await CliHarness.RunAsync("models", "demo", "--help");

        Assert.Equal(0, exit);
        Assert.Contains("--kind", stdout, StringComparison.Ordinal);
        Assert.Contains("transformer", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void DemoPairs_KindsAndAuditModelNames_FindTheirPair()
    {
        Assert.Equal(["mlp", "transformer"], DemoPairs.Kinds);
        Assert.Same(DemoPairs.Mlp, DemoPairs.Get("mlp"));
        Assert.Same(DemoPairs.Transformer, DemoPairs.ForModels("tf-verifier", "tf-drafter"));
        Assert.Same(DemoPairs.Mlp, DemoPairs.ForModels("demo-verifier", "demo-drafter"));
        Assert.Null(DemoPairs.ForModels("demo-verifier", "tf-drafter"));
        Assert.Equal(".specfn/models/transformer", DemoPairs.Transformer.DefaultRoot);
        Assert.Contains("rnn", Assert.Throws<ArgumentException>(() => DemoPairs.Get("rnn")).Message, StringComparison.Ordinal);
    }
}
