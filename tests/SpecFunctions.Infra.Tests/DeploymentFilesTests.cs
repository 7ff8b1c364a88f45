using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SpecFunctions.Infra.Tests;

[Collection(CompiledInfrastructureCollection.Name)]
public sealed class DeploymentFilesTests(CompiledInfrastructure infra)
{
    [Fact]
    public void ParametersFile_EveryEntry_IsAParameterOfMain()
    {
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(infra.InfraDirectory, "main.parameters.json")))!;
        var names = file["parameters"]!.AsObject().Select(p => p.Key).ToList();

        Assert.Contains("environmentName", names);
        Assert.Contains("location", names);
        Assert.All(names, name => Assert.True(infra.Template.Parameters.ContainsKey(name), $"main.bicep has no parameter '{name}'."));
    }

    [Fact]
    public void ParametersFile_ReplicaCounts_AreJsonNumbers()
    {
        // ARM rejects a string for an int parameter, so these must not be ${VAR} substitutions.
        var parameters = JsonNode.Parse(File.ReadAllText(Path.Combine(infra.InfraDirectory, "main.parameters.json")))!["parameters"]!;

        Assert.Equal(0, (int)parameters["minReplicas"]!["value"]!);
        Assert.True((int)parameters["maxReplicas"]!["value"]! >= 1);
    }

    [Fact]
    public void AzureYaml_ApiService_PointsAtTheDockerfileAndInfra()
    {
        var yaml = File.ReadAllText(RepositoryRoot.Combine("azure.yaml"));

        var project = YamlValue(yaml, "project");
        var dockerPath = YamlValue(yaml, "path", after: "docker:");
        var context = YamlValue(yaml, "context", after: "docker:");
        var infraPath = YamlValue(yaml, "path", after: "infra:");

        Assert.Matches(@"(?m)^services:\s*\n(\s*#.*\n)*\s+api:", yaml);
        Assert.Equal("infra", infraPath);
        Assert.True(File.Exists(Path.GetFullPath(Path.Combine(RepositoryRoot.Path, project, dockerPath))),
            $"azure.yaml docker.path '{dockerPath}' (relative to '{project}') does not exist.");
        Assert.Equal(RepositoryRoot.Path.TrimEnd('/'),
            Path.GetFullPath(Path.Combine(RepositoryRoot.Path, project, context)).TrimEnd('/'));
    }

    [Fact]
    public void AzureYaml_BothPlanes_DeployToContainerApps_AzdVersionPinned()
    {
        var yaml = File.ReadAllText(RepositoryRoot.Combine("azure.yaml"));

        Assert.Matches(@"(?m)^requiredVersions:\s*\n\s+azd:\s*""?>=\s*1\.\d+\.\d+", yaml);
        Assert.Matches(@"(?m)^\s{2}evaluator:\s*$", yaml);
        Assert.Equal(2, Regex.Matches(yaml, @"(?m)^\s+host:\s*containerapp\s*$").Count);
        Assert.DoesNotMatch(@"(?m)^\s+host:\s*appservice", yaml);
        // azd finds each app by its azd-service-name tag, which main.bicep sets to the service names.
        Assert.Contains("'azd-service-name': 'api'", File.ReadAllText(Path.Combine(infra.InfraDirectory, "main.bicep")), StringComparison.Ordinal);
        Assert.Contains("'azd-service-name': 'evaluator'", File.ReadAllText(Path.Combine(infra.InfraDirectory, "main.bicep")), StringComparison.Ordinal);
    }

    [Fact]
    public void AzureYaml_BothServices_DeployWithTheApiVersionTheBicepUses()
    {
        // azd reads the app and writes it back whole on every deploy; at its SDK's older version the scale-rule override
        // and the rule's identity are dropped and the write is refused. The same version as the template keeps them.
        var yaml = File.ReadAllText(RepositoryRoot.Combine("azure.yaml"));
        var bicepVersion = (string?)infra.Template.Module("evaluator").OfType("Microsoft.App/containerApps").Single()["apiVersion"];

        var services = yaml[yaml.IndexOf("\nservices:", StringComparison.Ordinal)..];
        var versions = Regex.Matches(services, @"(?m)^\s{4}apiVersion:\s*(?<v>\S+)\s*$").Select(m => m.Groups["v"].Value).ToList();
        Assert.Equal([bicepVersion!, bicepVersion!], versions);
        Assert.Equal("2026-03-02-preview", bicepVersion);
        // Each service's apiVersion sits inside that service's block.
        Assert.Matches(@"(?m)^  api:\s*\n(\s{4}.*\n)*?\s{4}apiVersion:", services);
        Assert.Matches(@"(?m)^  evaluator:\s*\n(\s{4}.*\n)*?\s{4}apiVersion:", services);
    }

    [Theory]
    [InlineData("api")]
    [InlineData("evaluator")]
    public void Infra_HasNoPerServiceModule_SoAzdTakesTheImageUpdatePath(string service)
    {
        // azd deploys infra/<service>.bicep (+ .parameters.json or a .bicepparam) instead of updating the image when one
        // exists ("controlled revisions"); the design here is the image update at the template's API version.
        Assert.False(File.Exists(Path.Combine(infra.InfraDirectory, service + ".bicep")));
        Assert.False(File.Exists(Path.Combine(infra.InfraDirectory, service + ".bicepparam")));
        Assert.True(File.Exists(Path.Combine(infra.InfraDirectory, "main.bicep")));
    }

    [Fact]
    public void ParametersFile_GpuTypeAndThePreviousOne_ComeFromTheAzdEnvironment()
    {
        var parameters = JsonNode.Parse(File.ReadAllText(Path.Combine(infra.InfraDirectory, "main.parameters.json")))!["parameters"]!;

        Assert.Equal("${SPECFN_GPU_PROFILE=Consumption-GPU-NC8as-T4}", (string?)parameters["gpuWorkloadProfileType"]!["value"]);
        Assert.Equal("${SPECFN_GPU_PROFILE_PREVIOUS=}", (string?)parameters["previousGpuWorkloadProfileType"]!["value"]);
    }

    [Fact]
    public void HostJson_UsesConnectionName_AndNoSamplingThatOpenTelemetryIgnores()
    {
        var host = JsonNode.Parse(File.ReadAllText(RepositoryRoot.Combine("host.json")))!;
        var provider = host["extensions"]!["durableTask"]!["storageProvider"]!.AsObject();

        Assert.Equal("OpenTelemetry", (string?)host["telemetryMode"]);
        Assert.Equal("AzureWebJobsStorage", (string?)provider["connectionName"]);
        Assert.False(provider.ContainsKey("connectionStringName"));
        Assert.Null(host["logging"]!["applicationInsights"]);
    }

    private static string YamlValue(string yaml, string key, string? after = null)
    {
        var start = after is null ? 0 : yaml.IndexOf(after, StringComparison.Ordinal);
        Assert.True(start >= 0, $"azure.yaml has no '{after}' section.");
        var match = new Regex($@"(?m)^\s*{Regex.Escape(key)}:\s*(?<value>\S+)\s*$").Match(yaml, start);
        Assert.True(match.Success, $"azure.yaml has no '{key}' entry{(after is null ? "" : $" under '{after}'")}.");
        return match.Groups["value"].Value;
    }
}
