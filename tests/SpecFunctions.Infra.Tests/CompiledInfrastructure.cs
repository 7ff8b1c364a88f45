using System.Text.Json.Nodes;

namespace SpecFunctions.Infra.Tests;

/// <summary>
/// Compiles and lints infra/main.bicep once per test run (about 3 s each) and exposes the ARM JSON.
/// </summary>
public sealed class CompiledInfrastructure
{
    public CompiledInfrastructure()
    {
        InfraDirectory = RepositoryRoot.Combine("infra");
        Build = BicepCli.Run(InfraDirectory, "build", "main.bicep", "--stdout");
        Lint = BicepCli.Run(InfraDirectory, "lint", "main.bicep");
        Template = Build.ExitCode == 0
            ? new ArmTemplate(JsonNode.Parse(Build.StandardOutput)!.AsObject())
            : throw new InvalidOperationException($"bicep build failed ({Build.ExitCode}):\n{Build.StandardError}");
    }

    /// <summary>Absolute path of infra/.</summary>
    public string InfraDirectory { get; }

    /// <summary>Result of <c>bicep build main.bicep --stdout</c>.</summary>
    internal BicepResult Build { get; }

    /// <summary>Result of <c>bicep lint main.bicep</c>.</summary>
    internal BicepResult Lint { get; }

    /// <summary>The compiled main template.</summary>
    internal ArmTemplate Template { get; }
}

[CollectionDefinition(Name)]
public sealed class CompiledInfrastructureCollection : ICollectionFixture<CompiledInfrastructure>
{
    public const string Name = "Compiled infrastructure";
}

/// <summary>A compiled ARM template (main or a module's inner template) with lookups the tests need.</summary>
internal sealed class ArmTemplate(JsonObject root)
{
    public JsonObject Root { get; } = root;

    public JsonObject Parameters => Root["parameters"]?.AsObject() ?? [];

    public JsonObject Variables => Root["variables"]?.AsObject() ?? [];

    public JsonObject Outputs => Root["outputs"]?.AsObject() ?? [];

    /// <summary>Top-level resources; handles both the array form and the symbolic-name object form.</summary>
    public IEnumerable<JsonObject> Resources => Root["resources"] switch
    {
        JsonArray array => array.Select(r => r!.AsObject()),
        JsonObject map => map.Select(p => p.Value!.AsObject()),
        _ => [],
    };

    /// <summary>Resources of a type (case-insensitive), at this level only.</summary>
    public IEnumerable<JsonObject> OfType(string type) =>
        Resources.Where(r => string.Equals((string?)r["type"], type, StringComparison.OrdinalIgnoreCase));

    /// <summary>The module deployment named <paramref name="deploymentName"/> (the Bicep module's name property).</summary>
    public JsonObject ModuleDeployment(string deploymentName) =>
        OfType("Microsoft.Resources/deployments").SingleOrDefault(d => (string?)d["name"] == deploymentName)
        ?? throw new InvalidOperationException($"The template has no module deployment named '{deploymentName}'.");

    /// <summary>Inner template of a module deployment.</summary>
    public ArmTemplate Module(string deploymentName) =>
        new(ModuleDeployment(deploymentName)["properties"]!["template"]!.AsObject());

    /// <summary>The expression or literal main passes to a module parameter.</summary>
    public string? ModuleArgument(string deploymentName, string parameter) =>
        ModuleDeployment(deploymentName)["properties"]?["parameters"]?[parameter]?["value"].AsText();

    /// <summary>This template and every nested module template, depth first.</summary>
    public IEnumerable<(string Path, ArmTemplate Template)> SelfAndModules(string path = "main")
    {
        yield return (path, this);
        foreach (var deployment in OfType("Microsoft.Resources/deployments"))
        {
            var inner = deployment["properties"]?["template"]?.AsObject();
            if (inner is not null)
            {
                foreach (var nested in new ArmTemplate(inner).SelfAndModules($"{path}/{deployment["name"]}"))
                {
                    yield return nested;
                }
            }
        }
    }
}

/// <summary>Reads JSON nodes as the text an ARM template author would write.</summary>
internal static class JsonText
{
    private static readonly System.Text.Json.JsonSerializerOptions _relaxed = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>A string node's value; any other node as unescaped JSON; null for a missing node.</summary>
    public static string? AsText(this JsonNode? node) => node switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        _ => node.ToJsonString(_relaxed),
    };
}
