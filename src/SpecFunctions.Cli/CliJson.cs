using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpecFunctions.Cli;

/// <summary>JSON settings of every <c>--json</c> output: camelCase, indented, NaN written as a string rather than failing.</summary>
internal static class CliJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };
}
