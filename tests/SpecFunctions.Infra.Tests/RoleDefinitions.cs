using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SpecFunctions.Infra.Tests;

/// <summary>
/// Resolves which built-in role definition GUIDs a compiled roleAssignments resource grants, following the
/// variable references and copy loops Bicep emits (no general ARM expression evaluation).
/// </summary>
internal static partial class RoleDefinitions
{
    public const string StorageBlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    public const string StorageQueueDataContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    public const string StorageTableDataContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    public const string AcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
    public const string MonitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb";

    /// <summary>Role GUIDs granted by <paramref name="assignment"/>: one, or one per copy-loop iteration.</summary>
    public static IReadOnlyList<string> Resolve(JsonObject assignment, JsonObject variables)
    {
        var expression = (string?)assignment["properties"]?["roleDefinitionId"]
            ?? throw new InvalidOperationException("Role assignment without properties.roleDefinitionId.");
        return ResolveExpression(expression, variables);
    }

    private static IReadOnlyList<string> ResolveExpression(string expression, JsonObject variables)
    {
        var literal = GuidPattern().Match(expression);
        if (!expression.Contains("variables(", StringComparison.Ordinal))
        {
            return literal.Success
                ? [literal.Value.ToLowerInvariant()]
                : throw new InvalidOperationException($"No role GUID in '{expression}'.");
        }

        var reference = VariableReference().Match(expression);
        if (!reference.Success)
        {
            throw new InvalidOperationException($"Unsupported variable reference in '{expression}'.");
        }

        var value = variables[reference.Groups["name"].Value]
            ?? throw new InvalidOperationException($"Variable '{reference.Groups["name"].Value}' is not defined.");
        if (reference.Groups["property"].Success)
        {
            value = value[reference.Groups["property"].Value]
                ?? throw new InvalidOperationException($"'{reference.Value}' names a missing property.");
        }

        if (reference.Groups["copy"].Success)
        {
            return value.AsArray().SelectMany(item => ResolveExpression((string)item!, variables)).ToList();
        }

        return ResolveExpression((string)value!, variables);
    }

    [GeneratedRegex(@"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")]
    private static partial Regex GuidPattern();

    [GeneratedRegex(@"variables\('(?<name>\w+)'\)(?:\.(?<property>\w+))?(?<copy>\[copyIndex\(\)\])?")]
    private static partial Regex VariableReference();
}
