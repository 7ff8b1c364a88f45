using Xunit.Abstractions;
using System.Text.Json.Nodes;

namespace SpecFunctions.Infra.Tests;

[Collection(CompiledInfrastructureCollection.Name)]
public sealed class BicepCompilationTests(CompiledInfrastructure infra, ITestOutputHelper output)
{
    // Rules whose verdict depends on today's date or on a module registry rather than on the templates.
    private static readonly string[] _rulesAllowedOff = ["use-recent-api-versions", "use-recent-module-versions"];

    [Fact]
    public void Build_MainBicep_ExitsZeroWithoutDiagnostics()
    {
        output.WriteLine(infra.Build.StandardError);

        Assert.Equal(0, infra.Build.ExitCode);
        Assert.Empty(infra.Build.Diagnostics);
        Assert.DoesNotContain("Warning", infra.Build.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Lint_MainBicep_ExitsZeroWithoutDiagnostics()
    {
        output.WriteLine(infra.Lint.StandardOutput + infra.Lint.StandardError);

        Assert.Equal(0, infra.Lint.ExitCode);
        Assert.Empty(infra.Lint.Diagnostics);
        Assert.DoesNotContain("Warning", infra.Lint.StandardOutput + infra.Lint.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void LintConfig_CoreRules_AreWarningsExceptDateDependentOnes()
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(infra.InfraDirectory, "bicepconfig.json")))!;
        var core = config["analyzers"]!["core"]!;
        var rules = core["rules"]!.AsObject();

        Assert.True((bool)core["enabled"]!);
        Assert.True(rules.Count >= 30, $"Only {rules.Count} core rules are configured.");
        foreach (var (name, rule) in rules)
        {
            var level = (string)rule!["level"]!;
            if (_rulesAllowedOff.Contains(name))
            {
                Assert.Equal("off", level);
            }
            else
            {
                Assert.True(level is "warning" or "error", $"Rule '{name}' is '{level}', expected warning or error.");
            }
        }
    }

    [Fact]
    public void Lint_FileBreakingARuleUnderProjectConfig_ReportsTheWarning()
    {
        // Same config as infra/, a file with an unused parameter and a hard-coded location: proves the gate above
        // would see warnings if main.bicep had any.
        var dir = Directory.CreateTempSubdirectory("specfn-bicep-");
        try
        {
            File.Copy(Path.Combine(infra.InfraDirectory, "bicepconfig.json"), Path.Combine(dir.FullName, "bicepconfig.json"));
            File.WriteAllText(Path.Combine(dir.FullName, "bad.bicep"), """
                @description('Not used anywhere.')
                param unused string

                resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
                  name: 'id-test'
                  location: 'westus3'
                }
                """);

            var result = BicepCli.Run(dir.FullName, "lint", "bad.bicep");

            Assert.Equal(0, result.ExitCode);
            Assert.Contains(result.Diagnostics, d => d.Contains("Warning no-unused-params", StringComparison.Ordinal));
            Assert.Contains(result.Diagnostics, d => d.Contains("Warning no-hardcoded-location", StringComparison.Ordinal));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
