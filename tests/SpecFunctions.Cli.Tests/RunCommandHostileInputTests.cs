using System.CommandLine;
using System.Diagnostics;
using SpecFunctions.Cli.Commands;
using SpecFunctions.Core.Evaluation;
using Xunit.Abstractions;

namespace SpecFunctions.Cli.Tests;

/// <summary>
/// <c>specfn run</c> as a user starts it (the built <c>specfn.dll</c> in its own process) on hostile input: a non-zero
/// exit, one message line on stderr, no stack trace, nothing written to the store folder.
/// </summary>
public sealed class RunCommandHostileInputTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("specfn-run-hostile-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    public static TheoryData<string> SuiteCases =>
    [
        "duplicate key promptsFile",
        "lone high surrogate in prompt",
        "task ids en and en-newline",
        "promptsFile dot-dot",
        "promptsFile number",
        "promptsFile FIFO",
        "promptsFile symlink to /dev/zero",
        "promptsFile symlink to /etc/shadow",
        "suite is a FIFO",
    ];

    [Theory]
    [MemberData(nameof(SuiteCases))]
    public async Task Run_HostileSuite_OneLineErrorNothingStored(string name)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_root, "suite")).FullName;
        var suite = HostileSuiteCorpus.Cases.Single(c => c.Name == name).Arrange(folder);

        var (exit, stderr) = await RunAsync("--suite", suite);

        Assert.NotEqual(0, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("specfn: suite file ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "store")), "the store folder was created");
    }

    [Theory]
    [InlineData("--run-id", "evil\n")]
    [InlineData("--run-id", "evil\r\n")]
    [InlineData("--max-new-tokens", "1025")]
    [InlineData("--gamma", "65")]
    public async Task Run_HostileOption_OneLineErrorNothingStored(string option, string value)
    {
        var suite = Path.Combine(_root, "ok.json");
        File.WriteAllText(suite, """{"name":"s","tasks":[{"id":"en","prompts":["hello"]}]}""");

        var (exit, stderr) = await RunAsync("--suite", suite, option, value);

        Assert.NotEqual(0, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"specfn: {option} must ", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "store")), "the store folder was created");
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(_root, "*", SearchOption.AllDirectories), p => p.Contains("evil", StringComparison.Ordinal));
    }

    [Fact]
    public void SettingsOptions_Ranges_ComeFromTheSharedLimits()
    {
        var limits = new EvaluationLimits { MaxNewTokens = 100 };
        var options = new SettingsOptions(limits: limits);
        var command = new Command("x");
        options.AddTo(command);

        Assert.Empty(command.Parse(["--max-new-tokens", "100", "--gamma", $"{limits.MaxGamma}"]).Errors);
        Assert.Equal("--max-new-tokens must be in 1..100", Assert.Single(command.Parse(["--max-new-tokens", "101"]).Errors).Message);
        Assert.Equal($"--gamma must be in 1..{limits.MaxGamma}", Assert.Single(command.Parse(["--gamma", $"{limits.MaxGamma + 1}"]).Errors).Message);
    }

    [Fact]
    public void SettingsOptions_PromptsPerShard_RangeFromTheSharedLimits_UnsetMeansTheHostDefault()
    {
        var limits = new EvaluationLimits { MaxPromptsPerShard = 50 };
        var options = new SettingsOptions(limits: limits);
        var command = new Command("x");
        options.AddTo(command);

        Assert.Null(options.Read(command.Parse([])).PromptsPerShard);
        Assert.Equal(50, options.Read(command.Parse(["--prompts-per-shard", "50"])).PromptsPerShard);
        Assert.Equal("--prompts-per-shard must be in 1..50", Assert.Single(command.Parse(["--prompts-per-shard", "0"]).Errors).Message);
        Assert.Equal("--prompts-per-shard must be in 1..50", Assert.Single(command.Parse(["--prompts-per-shard", "51"]).Errors).Message);
    }

    [Fact]
    public void SettingsOptions_DefaultRanges_AreTheHttpApis()
    {
        var options = new SettingsOptions();
        var command = new Command("x");
        options.AddTo(command);
        var api = new EvaluationLimits();

        Assert.Empty(command.Parse(["--max-new-tokens", $"{api.MaxNewTokens}"]).Errors);
        Assert.Single(command.Parse(["--max-new-tokens", $"{api.MaxNewTokens + 1}"]).Errors);
        Assert.Equal(1024, api.MaxNewTokens);
    }

    // specfn run with model folders that need not exist: the suite and the options are checked before them.
    private async Task<(int Exit, string Stderr)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = _root, UseShellExecute = false };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "specfn.dll"), "run", .. args,
            "--verifier", Path.Combine(_root, "verifier"), "--drafter", Path.Combine(_root, "drafter"), "--store", Path.Combine(_root, "store"), "--out", Path.Combine(_root, "out")])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            HostileSuiteCorpus.ReleaseFifos(Path.Combine(_root, "suite"));
            throw new TimeoutException("specfn run did not finish within 60 s");
        }

        output.WriteLine($"exit {process.ExitCode}; stderr: {await stderr}; stdout: {await stdout}");
        return (process.ExitCode, await stderr);
    }
}
