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

        Assert.Matches(@"(?m)^services:\s*\n\s+api:", yaml);
        Assert.Equal("infra", infraPath);
        Assert.True(File.Exists(Path.GetFullPath(Path.Combine(RepositoryRoot.Path, project, dockerPath))),
            $"azure.yaml docker.path '{dockerPath}' (relative to '{project}') does not exist.");
        Assert.Equal(RepositoryRoot.Path.TrimEnd('/'),
            Path.GetFullPath(Path.Combine(RepositoryRoot.Path, project, context)).TrimEnd('/'));
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
